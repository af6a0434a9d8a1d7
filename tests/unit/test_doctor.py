"""`qa doctor` checks with fast stand-ins: the fake LLM, a hash embedder's store, temp dirs."""

from __future__ import annotations

import json

import pytest

from index.locking import collection_lock, lock_holders
from qa.cli import doctor, main
from qa.core.settings import Settings
from qa.runtime.model_files import PACKAGED_MODELS


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, llm_backend="fake", embedder="hash")


def test_all_checks_pass_on_a_sound_setup(settings, capsys) -> None:
    assert doctor.doctor(settings, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert report["ok"] is True
    assert statuses["python"] == statuses["cpu"] == statuses["generation"] == "ok"
    assert statuses["model file"] == statuses["llm server"] == "skip"


def test_a_damaged_packaged_model_file_fails_with_the_file_named(tmp_path) -> None:
    name = "qwen2.5-coder-0.5b"
    target = tmp_path / "models" / f"{name}.gguf"
    target.parent.mkdir()
    target.write_bytes(b"not the model")
    check = doctor.check_model_file(Settings(home=tmp_path, llm_model=name))
    assert check.status == "fail" and "is damaged" in check.detail and str(target) in check.detail
    assert PACKAGED_MODELS[name].sha256[:16] in check.detail
    assert "rm" in check.fix


def test_a_cpu_without_avx2_fails_and_skips_generation(settings, monkeypatch) -> None:
    from qa.runtime.cpu import parse_cpuinfo

    old = parse_cpuinfo("model name : Old CPU\nflags : sse sse2 sse4_2 avx\n")
    monkeypatch.setattr(doctor, "read_cpu", lambda: old)
    results = {c.name: c for c in doctor.run_checks(settings)}
    assert results["cpu"].status == "fail" and "avx2" in results["cpu"].detail
    assert results["generation"].status == "skip"


def test_an_unwritable_data_dir_fails(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    check = doctor.check_data_dir(Settings(home=blocker / "home"))
    assert check.status == "fail" and "not writable" in check.detail


def test_an_unreachable_llm_server_fails(tmp_path) -> None:
    s = Settings(home=tmp_path, llm_backend="openai", openai_base_url="http://127.0.0.1:9/v1")
    check = doctor.check_llm_server(s)
    assert check.status == "fail" and "127.0.0.1:9" in check.detail


def test_a_collection_being_indexed_is_named_with_its_pid(settings) -> None:
    import os

    assert doctor.check_locks(settings).status == "ok"
    with collection_lock(settings.store.home, "news"):
        assert lock_holders(settings.store.home) == {"news": os.getpid()}
        check = doctor.check_locks(settings)
        assert check.status == "warn" and f"'news' by pid {os.getpid()}" in check.detail
    assert lock_holders(settings.store.home) == {}


def test_cli_doctor_prints_lines_and_exits_1_on_failure(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QA_HOME", str(tmp_path / "blocked" / "home"))
    (tmp_path / "blocked").write_text("a file where the folder should be")
    monkeypatch.setenv("QA_LLM_BACKEND", "fake")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  data dir" in out and "fix: set QA_HOME" in out
