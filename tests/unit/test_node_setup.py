"""The Node cache: what is looked up where, and the messages when something is missing
(no registry, no root: the cache is a temporary directory)."""

from __future__ import annotations

import json

import pytest

from proxylab.labs.local import node
from proxylab.vocab import Runtime


def test_runtime_vocabulary():
    assert [r.node_major for r in Runtime] == [None, 20, 22, 24]


def test_missing_ric_names_the_install_command(tmp_path, monkeypatch):
    machine = node.node_binary(20)
    if machine is None:
        pytest.skip("no Node.js 20 on this machine")
    monkeypatch.setenv(node.CACHE_ENV, str(tmp_path))
    with pytest.raises(node.NodeMissing) as info:
        node.resolve(Runtime.NODEJS20)
    assert node.SETUP_COMMAND in str(info.value) and str(tmp_path) in str(info.value)
    ric = node.ric_dir(20)
    for part in ("bin/index.mjs", "dist/rapid-client.node"):
        (ric / part).parent.mkdir(parents=True, exist_ok=True)
        (ric / part).write_text("")
    found = node.resolve("nodejs20.x")
    assert found.entry == ric / "bin" / "index.mjs" and found.node == machine[0]
    assert found.spec_fields()["runtime"] == "nodejs20.x"


def test_python_is_not_a_node_runtime():
    with pytest.raises(node.LabError, match="not a Node.js runtime"):
        node.resolve(Runtime.PYTHON3)


def test_dependencies_are_keyed_by_what_package_json_asks_for(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"name": "x", "dependencies": {"@aws-sdk/client-s3": "3.1.0"}}))
    b.write_text(json.dumps({"name": "y", "dependencies": {"@aws-sdk/client-s3": "3.1.0"}}))
    assert node.deps_key(a) == node.deps_key(b)  # the name does not matter
    b.write_text(json.dumps({"dependencies": {"@aws-sdk/client-s3": "3.2.0"}}))
    assert node.deps_key(a) != node.deps_key(b)
    with pytest.raises(node.NodeMissing, match="proxylab setup node"):
        node.installed_deps(a, root=tmp_path)


def test_a_node_runtime_without_its_node_is_refused_with_the_install_command(tmp_path):
    """An empty cache: any Node major but the machine's own is missing, and the message
    says which command installs it."""
    machine = next((r for r in Runtime if r.node_major and node.node_binary(r.node_major,
                                                                           root=tmp_path)), None)
    absent = next(r for r in (Runtime.NODEJS24, Runtime.NODEJS22) if r is not machine)
    with pytest.raises(node.NodeMissing) as info:
        node.resolve(absent, root=tmp_path)
    text = str(info.value)
    assert f"needs Node.js {absent.node_major}" in text
    assert f"{node.SETUP_COMMAND} --runtime {absent}" in text
    assert f"{node.NODE_PACKAGE}@{node.NODE_VERSIONS[absent.node_major]}" in text


def test_which_function_directories_need_dependencies_from_the_cache(tmp_path):
    """Only a package.json naming dependencies, in a directory without node_modules
    of its own (a package built with npm install is used as it is)."""
    fn = tmp_path / "fn"
    fn.mkdir()
    assert node.wanted_deps(fn) is None  # no package.json
    (fn / "package.json").write_text(json.dumps({"type": "module"}))
    assert node.wanted_deps(fn) is None  # nothing to install
    (fn / "package.json").write_text(json.dumps({"dependencies": {"undici": "6.21.3"}}))
    assert node.wanted_deps(fn) == fn / "package.json"
    (fn / "node_modules").mkdir()
    assert node.wanted_deps(fn) is None
    (fn / "node_modules").rmdir()
    (fn / "package.json").write_text("{not json")
    with pytest.raises(node.LabError, match="not a readable package.json"):
        node.wanted_deps(fn)


def test_installed_dependencies_are_not_fetched_again(tmp_path):
    pj = tmp_path / "package.json"
    pj.write_text(json.dumps({"dependencies": {"undici": "6.21.3"}}))
    target = node.deps_dir(pj, tmp_path)
    (target / "node_modules").mkdir(parents=True)
    (target / ".installed").write_text("undici@6.21.3\n")
    said: list[str] = []
    assert node.install_deps([pj], said.append, tmp_path) == [target / "node_modules"]
    assert said == [f"dependencies of {pj}: already in {target}"]  # no npm, no registry
