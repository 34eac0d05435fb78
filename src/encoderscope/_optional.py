"""Optional dependencies: import one, or say in one line which extra to install.

Example:
    >>> require("json", "hf").__name__
    'json'
    >>> try:
    ...     require("no_such_module_here", "clip")
    ... except MissingExtraError as err:
    ...     print(err)
    this needs the 'clip' extra (no_such_module_here is not installed): pip install 'encoderscope[clip]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from encoderscope.errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """``import module``; when it is missing, a :class:`MissingExtraError` that names ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        install = f"pip install 'encoderscope[{extra}]'"
        if err.name is not None and err.name.split(".")[0] != top:  # installed, but one of its imports fails
            raise MissingExtraError(f"{top} cannot be imported ({err}); reinstall the extra: {install}") from None
        raise MissingExtraError(f"this needs the '{extra}' extra ({top} is not installed): {install}") from None
