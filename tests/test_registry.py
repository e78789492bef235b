import logging
import re
from importlib.metadata import EntryPoint

import pytest

from bench import plugins, registry
from bench.errors import BenchError
from bench.targets import score_kinds
from bench.method import ScoreMethod


def test_builtin_methods_have_complete_metadata():
    infos = registry.list_methods()
    names = [m.name for m in infos]
    assert {"niqe", "gmlf"} <= set(names)
    for m in infos:
        assert m.family in registry.FAMILIES
        assert set(m.targets) <= set(score_kinds())
    assert registry.get_method_info("niqe").sign == -1
    assert registry.get_method_info("gmlf").trains


def test_factory_builds_by_name_with_config():
    method = registry.create_method("niqe-svr", epsilon=0.2)
    assert method.get_config() == {"C": (1.0, 10.0, 100.0), "gamma": ("scale",), "epsilon": 0.2, "cv_folds": 3}
    assert method.method_name == "niqe-svr"


def test_selection_by_family_and_name():
    assert "gmlf" in registry.resolve_method_names("svr")
    assert registry.resolve_method_names("niqe,gmlf,niqe") == ["niqe", "gmlf"]
    with pytest.raises(BenchError, match="unknown method 'nope'"):
        registry.resolve_method_names("nope")
    with pytest.raises(BenchError, match="unknown method 'svr'"):
        registry.resolve_method_names("method:svr")  # a family, not a method


def test_a_family_wins_over_its_namesake_method_unless_method_prefix_says_otherwise():
    table3 = ["ipiqa-base", "ipiqa-i2p", "ipiqa-prompt", "ipiqa-i2p-prompt", "ipiqa"]
    assert sorted(registry.resolve_method_names("ipiqa")) == sorted(table3)
    assert registry.resolve_method_names("method:ipiqa") == ["ipiqa"]
    assert registry.resolve_method_names("method:ipiqa,ipiqa-base,method:ipiqa") == ["ipiqa", "ipiqa-base"]


def test_offline_selector_excludes_methods_needing_weights(caplog):
    offline = registry.resolve_method_names("offline")
    assert "gmlf" in offline and "ceiq-release" not in offline and "hypernet" not in offline
    # NIQE's parameters ship with the package; pyiqa's NIQE reads the official .mat itself
    assert {"niqe", "niqe-svr"} <= set(offline) and "pyiqa:niqe" not in offline
    without_svr = registry.resolve_method_names("offline,-svr,-method:cnniqa")
    assert without_svr == [n for n in offline if n != "cnniqa" and registry.get_method_info(n).family != "svr"]
    assert "gmlf" not in without_svr and "ceiq" in without_svr
    with pytest.raises(BenchError, match="no methods selected by 'svr,-svr'"):
        registry.resolve_method_names("svr,-svr")
    # a removed family is removed whole and quietly: no "left out" line per absent pyiqa row
    caplog.set_level(logging.INFO)
    caplog.clear()
    without_pyiqa = registry.resolve_method_names("offline,-pyiqa")
    assert not any(registry.get_method_info(n).family == "pyiqa" for n in without_pyiqa)
    assert "left out" not in caplog.text


def test_entry_point_plugins_are_discovered(monkeypatch, tmp_path):
    plugin = tmp_path / "my_plugin.py"
    plugin.write_text(
        "from bench.registry import register_method\n"
        "from bench.method import ScoreMethod\n"
        "@register_method('plugin-brightness', family='handcrafted')\n"
        "class Brightness(ScoreMethod):\n"
        "    def score(self, image, prompt):\n"
        "        return float(image.mean())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(name="brightness", value="my_plugin", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry.METHOD_REGISTRY, "_loaded", False)
    info = registry.get_method_info("plugin-brightness")
    assert issubclass(info.cls, ScoreMethod) and info.family == "handcrafted"


def test_duplicate_registration_is_an_error():
    class Other(ScoreMethod):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register_method("niqe", family="handcrafted")(Other)


def test_methods_are_listed_in_family_order_even_for_families_their_modules_register():
    from bench.registry import list_families, list_methods

    order = {f.name: f.order for f in list_families()}
    families = [m.family for m in list_methods()]
    assert [order[f] for f in families] == sorted(order[f] for f in families)
    assert families[-1] == "pyiqa"  # registered by methods/pyiqa_zoo.py, order 60: last


@pytest.mark.parametrize("name, value, message", [
    ("feature_key", lambda self: "k", "feature_key must be a property (as in FeatureMethod), not a method"),
    ("smoke_config", lambda cls: {}, "smoke_config must be a classmethod (as in Method), not a method"),
    ("feature_version", 2, "feature_version must be of type str (as in FeatureMethod), not 2"),
    ("score_column", "0", "score_column must be of type int (as in ScoreMethod), not '0'"),
    ("smoke_slow", property(lambda self: True), "smoke_slow must be a bool value (as in Method), not a property"),
    ("fit", 3, "fit must be a method (as in Method), not a value"),
])
def test_a_contract_attribute_in_the_wrong_form_is_refused_at_registration(name, value, message):
    wrong = type("Wrong", (ScoreMethod,), {name: value})  # as `def feature_key(self)` without @property
    with pytest.raises(TypeError, match=re.escape(f"register_method('test-wrong-form'): Wrong.{message}")):
        registry.register_method("test-wrong-form", family="handcrafted")(wrong)
    assert "test-wrong-form" not in {m.name for m in registry.list_methods()}


def test_a_contract_attribute_in_an_accepted_form_is_kept():
    class Right(ScoreMethod):
        feature_key = "right-v1"  # a value where the base has a property
        smoke_slow = True

        @property
        def feature_version(self):  # a property where the base has a value (read on instances)
            return "2"

    assert registry.contract_errors(Right) == []
