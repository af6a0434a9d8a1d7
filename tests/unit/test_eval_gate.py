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


def test_a_ceiling_fails_above_it_and_reads_dotted_names() -> None:
    summary = {"metrics": {"accuracy": 0.5, "risk_coverage": {"aurc": 0.25}}}
    assert check(summary, {"accuracy": 0.4}, {"risk_coverage.aurc": 0.3}) == []
    failures = check(summary, {}, {"risk_coverage.aurc": 0.2})
    assert failures == ["risk_coverage.aurc: 0.250 is above the ceiling 0.200"]
    assert "missing" in check({"metrics": {"risk_coverage": {}}}, {}, {"risk_coverage.aurc": 1})[0]


def test_the_shipped_limits_name_metrics_a_summary_has() -> None:
    from evals.gate import DEFAULT_FLOORS, read_limits

    floors, ceilings = read_limits(DEFAULT_FLOORS)
    assert "accuracy" in floors and "risk_coverage.aurc" in ceilings
    assert all(0 < v <= 1 for v in [*floors.values(), *ceilings.values()])


def test_limit_spreads_over_question_types_in_file_order() -> None:
    from evals.runner import spread_over_types

    rows = [{"id": f"a{i}", "type": "a"} for i in range(5)]
    rows += [{"id": f"b{i}", "type": "b"} for i in range(3)]
    rows += [{"id": "c0", "type": "c"}]
    picked = [r["id"] for r in spread_over_types(rows, 5)]
    assert picked == ["a0", "a1", "b0", "b1", "c0"]
    assert len(spread_over_types(rows, 100)) == len(rows)


def test_table_has_a_column_per_run_and_a_row_per_main_metric() -> None:
    from evals.runner import TABLE_METRICS, format_table

    def run(acc: float) -> dict:
        return {"metrics": {"accuracy": acc, "retrieval": {"mrr": 0.5}}, "questions": 10}

    table = format_table({"a": run(0.25), "b": run(0.75)}).splitlines()
    assert table[0] == "| metric | a | b |"
    assert "| accuracy | 0.250 | 0.750 |" in table
    assert "| retrieval.mrr | 0.500 | 0.500 |" in table
    assert "| f1 | - | - |" in table  # missing metrics are shown, not dropped
    assert len(table) == 2 + len(TABLE_METRICS) + 1
