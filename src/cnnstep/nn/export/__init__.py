"""Taking a cnnstep model elsewhere: ONNX for onnxruntime, PyTorch for more training.

* :func:`to_onnx` writes an ONNX graph (NHWC float32 images in, probabilities out);
* :class:`OnnxModel` runs one with onnxruntime, with ``Sequential``'s inference methods,
  and :func:`load_predictor` opens an ``.npz`` or an ``.onnx`` by its suffix;
* :func:`to_torch` / :func:`from_torch` convert to a ``torch.nn.Sequential`` and back.

The optional packages are imported only when one of these is called, so ``import
cnnstep.nn`` stays NumPy-only; a missing one is an ImportError naming the ``pip install``
(``cnnstep[export]`` for onnx and onnxruntime, ``cnnstep[torch]`` for torch).
"""

from cnnstep.nn.export.onnx_export import to_onnx
from cnnstep.nn.export.onnx_model import OnnxModel, load_predictor
from cnnstep.nn.export.torch_bridge import from_torch, to_torch

__all__ = ["to_onnx", "OnnxModel", "load_predictor", "to_torch", "from_torch"]
