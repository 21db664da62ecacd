"""kt_lib's public names (kt_lib/__init__.py): each resolves on first use to what the notebooks call, importing
kt_lib alone loads no torch, and a misspelt name gets a suggestion."""

import subprocess
import sys
import types

import pytest

import kt_lib


@pytest.mark.parametrize("name", [n for n in kt_lib.__all__ if n != "__version__"])
def test_every_public_name_resolves_to_its_module_or_object(name):
    module, attr = kt_lib._LAZY[name]
    obj = getattr(kt_lib, name)
    if attr is None:
        assert isinstance(obj, types.ModuleType) and obj.__name__ == module
    else:
        assert callable(obj) and obj is getattr(sys.modules[module], attr)
    assert name in dir(kt_lib)


def test_importing_kt_lib_loads_no_torch():
    code = "import sys, kt_lib; print(sorted({'torch', 'open_clip'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_misspelt_name_gets_a_suggestion_and_a_far_one_the_list():
    with pytest.raises(AttributeError, match="did you mean recovery"):
        kt_lib.recovry  # noqa: B018
    with pytest.raises(AttributeError, match="the learner API is: __version__, setup"):
        kt_lib.zzzz  # noqa: B018
