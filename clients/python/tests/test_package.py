"""The package as users get it: generated stubs equal to what our buf configuration makes from
proto/ now (the drift check), and `pip install` of the folder into a fresh virtual environment."""

import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PKG = REPO / "clients" / "python"
BUF = REPO / "node_modules" / ".bin" / "buf"


def tree(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.parametrize("template,subdir", [("buf.gen.python.yaml", "presence"), ("buf.gen.python-rpc.yaml", "presence_client/_vendor")])
def test_generated_stubs_match_the_protos(template, subdir):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(BUF), "generate", "--template", template, "-o", out], cwd=REPO, check=True, capture_output=True, timeout=120)
        fresh = Path(out) / "clients" / "python" / "src" / subdir
        committed = PKG / "src" / subdir
        assert tree(fresh) == tree(committed), f"run `npm run generate:python` ({template})"
        differing = [f for f in tree(fresh) if not filecmp.cmp(fresh / f, committed / f, shallow=False)]
        assert differing == [], f"stale generated files {differing}: run `npm run generate:python`"


def test_pip_install_into_a_fresh_venv_then_import_and_call(server, room):
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        # --system-site-packages: grpcio, protobuf and PyJWT come from Debian here (no PyPI); the
        # package itself is built and installed from the folder, as a user does with pip.
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONPATH", None)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(PKG)], check=True, env=env, timeout=300, cwd=tmp)
        script = (
            "import presence_client, presence.v1.presence_pb2 as pb, sys\n"
            "assert 'site-packages' in presence_client.__file__, presence_client.__file__\n"
            f"c = presence_client.PresenceClient({server.target!r}, token=presence_client.service_token({server.secret!r}))\n"
            f"c.join({room!r}, user='venv-user')\n"
            f"print(c.count({room!r}).users, pb.JoinRequest.DESCRIPTOR.full_name)\n"
        )
        out = subprocess.run([str(venv / "bin" / "python"), "-c", script], check=True, capture_output=True, text=True, env=env, timeout=60, cwd=tmp)
        assert out.stdout.split() == ["1", "presence.v1.JoinRequest"]
