from evals.gate import check

FLOORS = {"accuracy": 0.3, "citation_precision": 0.6, "abstention_rate": 0.3}


def test_gate_passes_at_or_above_floors() -> None:
    summary = {"metrics": {"accuracy": 0.3, "citation_precision": 0.9, "abstention_rate": 0.5}}
    assert check(summary, FLOORS) == []


def test_gate_names_each_metric_below_its_floor() -> None:
    summary = {"metrics": {"accuracy": 0.29, "citation_precision": 0.9, "abstention_rate": 0.1}}
    failures = check(summary, FLOORS)
    assert len(failures) == 2
    assert failures[0].startswith("accuracy: 0.290 is below")
    assert failures[1].startswith("abstention_rate: 0.100 is below")


def test_gate_fails_when_a_metric_is_missing() -> None:
    failures = check({"metrics": {"accuracy": 0.9, "citation_precision": None}}, FLOORS)
    assert any("citation_precision: missing" in f for f in failures)
    assert any("abstention_rate: missing" in f for f in failures)
