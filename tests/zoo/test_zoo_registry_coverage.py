"""Coverage over the registries: every timm family, every torchvision classifier, HF types, open_clip towers.

Each case must produce concept maps at image size for two non-square images (default layers and depth index 0),
or, for the models listed in ``UNSUPPORTED``, raise an ``EncoderscopeError`` whose one line says what is
unsupported. Any other exception fails. The default run takes the fixed sample of
:func:`tests.zoo.registry.default_sample` (every known-hard family plus a CRC-32 sample); the rest is marked
``slow`` and runs when asked for: ``pytest -m slow tests/zoo/test_zoo_registry_coverage.py -n 2`` (only the rest) or
``ENCODERSCOPE_FULL_SWEEP=1 pytest tests/zoo/test_zoo_registry_coverage.py -n 2`` (everything).
The run ends with a one-line tally (``tests/zoo/conftest.py``); ``scripts/model_coverage.py`` prints one line per
model and the tally without pytest.
"""

from __future__ import annotations

import gc

import pytest

from encoderscope.errors import EncoderscopeError
from tests.zoo import registry

# Models that cannot give concept maps, with the start of their one-line reason (see docs/models.md).
UNSUPPORTED: dict[str, str] = {}


def _params() -> list:
    cases = registry.all_cases()
    sample = {case.id for case in registry.default_sample(cases)}
    return [
        pytest.param(case, id=case.id, marks=() if case.id in sample else pytest.mark.slow) for case in cases
    ]


def test_families_json_matches_the_installed_timm_registry():
    committed = registry.timm_families()
    installed = registry.family_script().families()
    table = committed["families"]
    assert sorted(table) == sorted(installed), (
        "timm's families changed: run `python scripts/timm_families.py` "
        f"(added {sorted(set(installed) - set(table))[:5]}, gone {sorted(set(table) - set(installed))[:5]})"
    )
    for family, entry in table.items():
        assert entry["model"] in installed[family], f"{family}: {entry['model']} is no longer in that family"
        assert entry["models"] == len(installed[family]), f"{family}: {len(installed[family])} models now"


def test_default_sample_is_fixed_and_holds_every_hard_family():
    cases = registry.all_cases()
    sample = registry.default_sample(cases)
    assert [c.id for c in sample] == [c.id for c in registry.default_sample(registry.all_cases())]
    ids = {case.id for case in sample}
    assert {f"timm/{family}" for family in registry.HARD_TIMM} <= ids
    assert 0 < len(sample) < len(cases)


@pytest.fixture
def freed():
    """Collect the case's model (and its reference cycles) before the next case loads one: memory stays bounded."""
    yield
    gc.collect()


@pytest.mark.parametrize("case", _params())
def test_model_gives_maps_or_one_clear_line(case, tmp_path, request, record_property, freed):
    if request.node.get_closest_marker("slow") and not registry.full_sweep_asked(request.config):
        pytest.skip("full registry sweep: run with -m slow or ENCODERSCOPE_FULL_SWEEP=1")
    try:
        registry.check_case(case, tmp_path)
    except EncoderscopeError as err:
        record_property(registry.OUTCOME_PROPERTY, "error")
        message = str(err)
        assert "\n" not in message
        expected = UNSUPPORTED.get(case.id)
        assert expected is not None, f"{case.id} gave no maps: {message}"
        assert message.startswith(expected), message
    except registry.CheckFailed:
        record_property(registry.OUTCOME_PROPERTY, "failed check")
        raise
    except Exception:
        record_property(registry.OUTCOME_PROPERTY, "traceback")
        raise
    else:
        record_property(registry.OUTCOME_PROPERTY, "maps")
