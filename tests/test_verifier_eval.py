"""The evaluation command's building blocks on a small subset of SVC2004."""

import numpy as np
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
@pytest.mark.parametrize(("timed", "method"), [(True, "timed"), (False, "shape")])
def test_protocol_on_a_few_users_has_the_expected_structure(timed: bool, method: str) -> None:
    results = evaluate.run_protocol(svc2004.DEFAULT_DATASET, users=(2, 9, 17), timed=timed)
    assert len(results["genuine"].accepted) == 3 * 10
    assert len(results["skilled"].accepted) == 3 * 20
    assert len(results["random"].accepted) == 3 * evaluate.RANDOM_FORGERIES_PER_USER
    assert {m for scores in results.values() for m in scores.methods} == {method}
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
    again = evaluate.run_protocol(svc2004.DEFAULT_DATASET, users=(2, 9, 17), timed=timed)
    assert evaluate.summarise(again) == summary


def test_resampling_keeps_the_movement_at_another_rate() -> None:
    t = np.arange(0.0, 1000.0, 10.0)
    stroke = np.column_stack([t * 0.3, np.sin(t / 100.0) * 50, t + 5000.0])
    (phone,) = evaluate.resample_at([stroke], 60.0)
    assert len(phone) == 60 and phone[0].tolist() == stroke[0].tolist()
    assert np.allclose(np.diff(phone[:, 2]), 1000 / 60, atol=0.7)  # whole ms, as browsers report
    assert np.allclose(phone[:, 0], phone[:, 2] * 0.3 - 1500, atol=0.2)  # on the same path


@needs_dataset
def test_the_command_prints_the_table_and_the_features(capsys) -> None:
    assert evaluate.main(["--users", "2", "--sweep", "1.0"]) == 0
    out = capsys.readouterr().out
    assert "features: timed method" in out and "jx, jy" in out
    rows = [line.split()[:4] for line in out.splitlines()]
    assert "FRR@rule" in out and ["all", "2", "users", "skilled"] in rows
    assert evaluate.main(["--users", "2", "--untimed"]) == 0
    assert "features: shape method" in capsys.readouterr().out


def test_missing_dataset_is_a_clear_error(tmp_path, capsys) -> None:
    assert evaluate.main(["--dataset", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(svc2004.DatasetMissing):
        evaluate.run_protocol(tmp_path, users=(1,))


def test_the_verification_benchmark_runs(capsys) -> None:
    # The code path of `./dev bench verify` on a tiny run; figures are printed there, not checked here.
    from bench import verify as bench_verify

    results = bench_verify.run(quick=True)
    assert results.data["timed"]["attempts"] == results.data["shape"]["attempts"] > 0
    assert results.data["shape"]["methods"] == ["shape"]
    for view in ("timed", "shape"):
        assert set(results.data[view]["verify_ms"]) == {"p50", "p99"}
    assert "verify p99 ms" in capsys.readouterr().out


@needs_dataset
def test_the_attacks_are_printed_one_named_row_each(capsys) -> None:
    assert evaluate.main(["--users", "2", "--attacks"]) == 0
    out = capsys.readouterr().out

    def share(label: str) -> str:
        line = next(line for line in out.splitlines() if line.startswith(label))
        return line[len(label):].split()[0]

    for _, label, _ in evaluate.ATTACKS:
        assert share(label).endswith("%"), label
    # Untimed forgeries are refused outright; genuine attempts are never taken for copies.
    assert share("forgery sent untimed") == "0.0%"
    assert share("genuine attempts refused as replays") == "0.0%"


def test_attack_drawings_keep_what_they_claim() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(0.0, 1000.0, 10.0)
    stroke = np.column_stack([t * 0.3, np.sin(t / 100.0) * 50, t])
    width = float(np.ptp(stroke[:, 0]))
    scaled = evaluate.scale_time([stroke], 0.5)[0]
    assert np.allclose(scaled[:, 2], t * 0.5) and np.array_equal(scaled[:, :2], stroke[:, :2])
    noisy = evaluate.with_noise([stroke], rng)[0]
    assert 0.3 < np.std(noisy[:, :2] - stroke[:, :2]) / (width / 300) < 2.0  # about 1 px at 300 px wide
    made_up = evaluate.constant_speed([stroke])[0]
    speed = np.hypot(*np.diff(made_up[:, :2], axis=0).T) / np.diff(made_up[:, 2])
    assert np.allclose(speed, speed.mean(), rtol=1e-6)
    for kind in evaluate.COPY_KINDS:
        copy = evaluate.perturbed_copy([stroke], rng, kind)[0]
        assert np.all(np.diff(copy[:, 2]) >= 0)  # times stay in order, as the parser requires
        assert abs(len(copy) - len(stroke)) <= 0.5 * len(stroke)
    assert np.isnan(evaluate.perturbed_copy([stroke], rng, "all", timed=False)[0][:, 2]).all()
