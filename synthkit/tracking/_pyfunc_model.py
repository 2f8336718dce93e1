"""MLflow "models from code" entry file for synthkit models.

:func:`synthkit.tracking.save_model` passes this file's *path* as ``python_model``: MLflow
copies it into the logged model and executes it on load, instead of unpickling a Python
object. It only names the wrapper class; the logic lives in the installed synthkit
(:mod:`synthkit.tracking._pyfunc`), and the fitted model is the ``synthkit_model`` artifact
(JSON + safetensors), so loading runs no pickled code.
"""

from mlflow.models import set_model

from synthkit.tracking._pyfunc import SynthkitPyfuncModel

set_model(SynthkitPyfuncModel())
