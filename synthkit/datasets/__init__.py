"""Small real tables bundled with synthkit, for the demo, examples and tests.

Only the function bodies import pandas, so importing this module stays cheap.
See ``README.md`` in this folder for sources and licences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ADULT_SAMPLE_FILE", "load_adult_sample"]

#: File name of the bundled UCI Adult sample inside the ``synthkit.datasets`` package.
ADULT_SAMPLE_FILE = "adult_sample.csv.gz"

_ADULT_INTEGER_COLUMNS = (
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
)
_ADULT_STRING_COLUMNS = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
    "income",
)


def load_adult_sample() -> pd.DataFrame:
    """Load a 4,000-row sample of the UCI Adult (census income) table.

    The rows are a random subsample (seed 0, original order kept) of the 32,561-row
    ``adult.data`` training split: 6 integer and 9 string columns, with missing values in
    ``workclass``, ``occupation`` and ``native-country``.

    Returns:
        A new DataFrame with 15 columns: integer columns as ``int64``, string columns as
        pandas' default string dtype, missing values as nulls (``NaN``).

    Example:
        >>> from synthkit.datasets import load_adult_sample
        >>> df = load_adult_sample()
        >>> df.shape
        (4000, 15)
    """
    from importlib import resources

    import pandas as pd

    dtypes: dict[str, str] = dict.fromkeys(_ADULT_INTEGER_COLUMNS, "int64")
    dtypes.update(dict.fromkeys(_ADULT_STRING_COLUMNS, "str"))
    source = resources.files(__package__).joinpath(ADULT_SAMPLE_FILE)
    with source.open("rb") as fh:
        # Only the empty field means "missing": pandas' default NA strings ("NA", "null"...)
        # must stay ordinary values.
        return pd.read_csv(
            fh,
            compression="gzip",
            dtype=dtypes,
            keep_default_na=False,
            na_values=[""],
        )
