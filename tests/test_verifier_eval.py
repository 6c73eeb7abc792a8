"""The evaluation command's building blocks on a small subset of SVC2004."""

import pytest

from enrollment_core.verification import evaluate, svc2004

needs_dataset = pytest.mark.skipif(
    not (svc2004.DEFAULT_DATASET / "training").is_dir(),
    reason=f"SVC2004 Task 1 not found at {svc2004.DEFAULT_DATASET}",
)


def test_equal_error_rate_on_known_scores() -> None:
    assert evaluate.equal_error_rate([0.1, 0.2, 0.3], [0.4, 0.5]) == (0.0, 0.3)
    eer, _ = evaluate.equal_error_rate([0.1, 0.2, 0.3, 0.7], [0.25, 0.8, 0.9, 1.0])
    assert eer == pytest.approx(0.25)  # at 0.3: one genuine rejected, one impostor accepted
    assert evaluate.equal_error_rate([1.0], [1.0])[0] == pytest.approx(0.5)


@needs_dataset
def test_protocol_on_a_few_users_has_the_expected_structure() -> None:
    results = evaluate.run_protocol(svc2004.DEFAULT_DATASET, users=(2, 9, 17))
    assert len(results["genuine"].accepted) == 3 * 10
    assert len(results["skilled"].accepted) == 3 * 20
    assert len(results["random"].accepted) == 3 * evaluate.RANDOM_FORGERIES_PER_USER
    summary = evaluate.summarise(results)
    for kind in ("skilled", "random"):
        row = summary[kind]
        assert set(row) >= {"eer", "eer_threshold", "far_at_rule", "frr_at_rule", "attempts"}
        for key in ("eer", "far_at_rule", "frr_at_rule"):
            assert 0.0 <= row[key] <= 1.0
    # A split summarises only the attempts on those users' profiles.
    one = evaluate.summarise(results, users=(9,))
    assert one["genuine"]["attempts"] == 10 and one["skilled"]["attempts"] == 20
    # Deterministic: the same seed gives the same figures.
    again = evaluate.summarise(evaluate.run_protocol(svc2004.DEFAULT_DATASET, users=(2, 9, 17)))
    assert again == summary


def test_missing_dataset_is_a_clear_error(tmp_path, capsys) -> None:
    assert evaluate.main(["--dataset", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(svc2004.DatasetMissing):
        evaluate.run_protocol(tmp_path, users=(1,))
