"""The ``hydra_plugins.rpc_solo_plugin`` hook: registers ``method: rpc`` for solo-learn's scripts and is inert in
every other Hydra app (fresh processes, the installed hydra-core; solo's own script is exercised in
test_main_pretrain.py and test_main_ddp.py).
"""

import json
import subprocess
import sys
import textwrap


def python(code, cwd=None, timeout=120):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_hydra_discovers_the_hook_and_it_imports_nothing_without_solo():
    proc = python("""
        import json, sys
        from hydra.core.plugins import Plugins
        Plugins.instance()  # what @hydra.main does first: import every hydra_plugins module
        print(json.dumps({m: m in sys.modules for m in ("hydra_plugins.rpc_solo_plugin", "solo", "rpc_solo", "torch")}))
    """)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"hydra_plugins.rpc_solo_plugin": True, "solo": False, "rpc_solo": False, "torch": False}, seen


def test_another_hydra_app_is_unaffected(tmp_path):
    (tmp_path / "app.py").write_text(
        textwrap.dedent("""
        import sys
        import hydra

        @hydra.main(version_base=None, config_path=None)
        def main(cfg):
            print("modules", "solo" in sys.modules, "rpc_solo" in sys.modules, cfg.x)

        if __name__ == "__main__":
            main()
    """)
    )
    proc = subprocess.run(
        [sys.executable, "app.py", "+x=7", "hydra.run.dir=."], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "modules False False 7" in proc.stdout
    assert "rpc_solo_plugin" not in proc.stderr  # no warning from the hook


def test_hook_registers_rpc_once_solo_is_imported():
    proc = python("""
        import solo.methods
        from hydra_plugins.rpc_solo_plugin import register_if_solo
        import rpc_solo
        from solo.methods import METHODS
        print(register_if_solo(), METHODS["rpc"] is rpc_solo.RPC)
    """)
    assert proc.stdout.split()[-2:] == ["True", "True"]


def test_hook_never_raises_when_registration_fails():
    """A broken rpc_solo (here: made unimportable) gives a warning; solo's own methods keep working."""
    proc = python("""
        import sys, warnings
        import solo.methods
        sys.modules["rpc_solo"] = None  # any import of rpc_solo now raises ImportError
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from hydra_plugins.rpc_solo_plugin import register_if_solo
            ok = register_if_solo()
        print(ok, "rpc" in solo.methods.METHODS, "simclr" in solo.methods.METHODS)
        print([str(w.message) for w in caught if "rpc-plugins" in str(w.message)][:1])
    """)
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].split() == ["False", "False", "True"]
    assert "could not register solo-learn method 'rpc'" in lines[-1]


def test_runner_registers_rpc_for_scripts_without_hydra(tmp_path):
    """solo's argparse scripts (main_knn.py, main_umap.py) never start Hydra: ``python -m rpc_solo.hydra_main``."""
    script = tmp_path / "solo_script.py"
    script.write_text("import sys\nfrom solo.methods import METHODS\nprint('rpc' in METHODS, sys.argv[1:])\n")
    proc = subprocess.run(
        [sys.executable, "-m", "rpc_solo.hydra_main", str(script), "--flag", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "True ['--flag', '1']"
