"""The batched trainer: a run in a group equals the run alone, the stacked forward equals each run's
own LRNN, resume is exact, and a run that diverges is rolled back and frozen without touching the others."""
import pytest
import torch

from statetrack.train.batched import GroupTrainer, check_group, train_group
from statetrack.errors import TrainingError

from tests.train.conftest import tiny

CPU = torch.device("cpu")


def _configs():
    return [tiny(seed=0), tiny(seed=1, lr=3e-3, model={**tiny().model.to_dict(), "eig_range": "0,1"}),
            tiny(seed=2, weight_decay=0.0)]


@pytest.mark.parametrize("kind", [pytest.param("deltanet", id="deltanet"), pytest.param("diagonal", id="diagonal"),
                                  pytest.param("transformer", id="transformer"),
                                  pytest.param("deltaproduct", id="deltaproduct-nh2"),
                                  pytest.param("deltanet-p1", id="deltanet-swiglu-fla-init")])
def test_stacked_forward_equals_each_runs_own_model(kind):
    extra = {"n_h": 2} if kind == "deltaproduct" else {}
    if kind == "deltanet-p1":
        kind, extra = "deltanet", {"mlp": "swiglu", "init": "fla"}
    cfgs = [c.replace(model__kind=kind, **{f"model__{k}": v for k, v in extra.items()}) for c in _configs()]
    tr = GroupTrainer(cfgs, CPU)
    x, _, _ = tr.stream.sample(tr.seeds, 0, 5)                              # (R, B, T)
    with torch.no_grad():
        stacked = tr.model.logits(x)
        for r, cfg in enumerate(cfgs):
            alone = tr.model.run_model(r, cfg)(x[r])
            torch.testing.assert_close(stacked[r], alone, rtol=1e-5, atol=1e-5)


def test_a_run_in_a_group_trains_as_it_does_alone():
    cfgs = _configs()
    group = GroupTrainer(cfgs, CPU)
    group.run_steps(10)
    for r, cfg in enumerate(cfgs):
        alone = GroupTrainer([cfg], CPU)
        alone.run_steps(10)
        torch.testing.assert_close(group.model.theta[r], alone.model.theta[0], rtol=1e-4, atol=1e-6)
    assert not torch.equal(group.model.theta[0], group.model.theta[1])


@pytest.mark.parametrize("kind", [pytest.param("deltanet", id="deltanet"), pytest.param("diagonal", id="diagonal"),
                                  pytest.param("deltaproduct", id="deltaproduct-nh2")])
def test_packed_words_train_as_the_padded_layout(kind):
    """The same words end to end (no padding) give the padded layout's steps: the convolution and the
    recurrence restart at every word. With the convolution reading across words the check fails."""
    extra = {"model__n_h": 2} if kind == "deltaproduct" else {}
    cfgs = [c.replace(model__kind=kind, **extra) for c in _configs()]
    padded, packed = GroupTrainer(cfgs, CPU), GroupTrainer(cfgs, CPU, packed=True)
    assert packed.packed and not padded.packed                              # naive backend: padded by default
    padded.run_steps(4)
    packed.run_steps(4)
    start = GroupTrainer(cfgs, CPU).model.theta
    assert (packed.model.theta - start).abs().max() > 1e-3                  # it trained
    torch.testing.assert_close(packed.model.theta, padded.model.theta, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(packed.loss_sum, padded.loss_sum, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", [pytest.param("deltanet", id="deltanet"),
                                  pytest.param("deltaproduct", id="deltaproduct-nh2")])
def test_chunk_backend_packs_by_default_and_trains_as_padded(kind, monkeypatch):
    """The chunk kernels (Triton interpreter here) take packed words: the trainer packs by default, its words
    share chunks (the stream's longest segment fits one), and two steps match the padded layout's on the
    same backend."""
    from statetrack.kernels.delta_rule import chunk as chunk_mod

    made, real = [], chunk_mod.word_chunks
    monkeypatch.setattr(chunk_mod, "word_chunks", lambda cu, T, tpc: made.append((len(cu) - 1, real(cu, T, tpc)))
                        or made[-1][1])
    extra = {"model__n_h": 2} if kind == "deltaproduct" else {}
    cfgs = [c.replace(model__kind=kind, model__backend="chunk", **extra) for c in _configs()[:2]]
    packed, padded = GroupTrainer(cfgs, CPU), GroupTrainer(cfgs, CPU, packed=False)
    assert packed.packed and not padded.packed and packed.model.max_seqlen is not None
    packed.run_steps(2)
    assert made and all(int((offs[1:] > offs[:-1]).sum()) < n for n, (offs, _) in made)   # fewer chunks than words
    padded.run_steps(2)
    assert (packed.model.theta - GroupTrainer(cfgs, CPU).model.theta).abs().max() > 1e-3     # it trained
    torch.testing.assert_close(packed.model.theta, padded.model.theta, rtol=1e-4, atol=1e-5)


def test_packed_words_fail_the_check_when_words_leak(monkeypatch):
    from statetrack.models.conv import ShortConv

    forward = ShortConv.forward
    monkeypatch.setattr(ShortConv, "forward", lambda self, x, pos=None: forward(self, x))   # pos ignored
    cfgs = _configs()
    padded, packed = GroupTrainer(cfgs, CPU), GroupTrainer(cfgs, CPU, packed=True)
    padded.run_steps(2)
    packed.run_steps(2)
    assert (packed.loss_sum - padded.loss_sum).abs().max() > 1e-4


def test_packing_is_refused_where_a_mixer_cannot_pack():
    cfgs = [c.replace(model__kind="transformer") for c in _configs()]
    assert not GroupTrainer(cfgs, CPU).packed
    with pytest.raises(TrainingError, match="packed batches need mixers that take packed words"):
        GroupTrainer(cfgs, CPU, packed=True)
    fixed = [c.replace(train_min_len=5, train_max_len=5) for c in _configs()]
    with pytest.raises(TrainingError, match="packed batches need train lengths that vary"):
        GroupTrainer(fixed, CPU, packed=True)


def test_compiled_stages_train_as_the_eager_ones():
    """torch.compile of the stages (the CUDA default) changes only the arithmetic's grouping: after
    steps of a mixed group (two eigenvalue ranges, lrs, weight decays) the weights agree with eager."""
    cfgs = _configs()
    eager, fused = GroupTrainer(cfgs, CPU, compile=False), GroupTrainer(cfgs, CPU, compile=True)
    assert fused.model.compiled and not eager.model.compiled
    eager.run_steps(4)
    fused.run_steps(4)
    start = GroupTrainer(cfgs, CPU, compile=False).model.theta
    assert (fused.model.theta - start).abs().max() > 1e-3                   # it trained
    torch.testing.assert_close(fused.model.theta, eager.model.theta, rtol=1e-4, atol=1e-5)


def test_initial_weights_are_the_single_run_loops():
    from statetrack.train.loop import build

    cfg = tiny(seed=4)
    _, model, _, _ = build(cfg, CPU)
    tr = GroupTrainer([cfg], CPU)
    for name, p in model.named_parameters():
        assert torch.equal(tr.model.run_state_dict(0)[name], p.detach()), name


def test_resume_replays_exactly(tmp_path):
    cfgs = _configs()
    full = train_group(cfgs, tmp_path / "full", resume=False)
    assert train_group(cfgs, tmp_path / "cut", stop_after=6) is None
    resumed = train_group(cfgs, tmp_path / "cut")
    assert {r["group"]["resumed_from_step"] for r in full} == {0}
    assert {r["group"]["resumed_from_step"] for r in resumed} == {6}
    for a, b in zip(full, resumed):
        assert a["loss_curve"] == b["loss_curve"]
        assert a["eval"]["accuracy"] == b["eval"]["accuracy"]
    from statetrack.train.checkpoint import read_checkpoint

    t1, _ = read_checkpoint(tmp_path / "full" / "run1" / "checkpoint.safetensors")
    t2, meta = read_checkpoint(tmp_path / "cut" / "run1" / "checkpoint.safetensors")
    assert meta["weights_only"] and all(torch.equal(t1[k], t2[k]) for k in t1)


def test_results_have_the_single_run_schema(tmp_path):
    from statetrack.reports.load import check_results

    res = train_group(_configs(), tmp_path / "g", names=["a", "b", "c"])
    for r, name in zip(res, "abc"):
        assert check_results(r, name) == "learned"
        assert (tmp_path / "g" / name / "results.json").exists()
        assert r["group"]["size"] == 3 and r["status"] == "completed"
        assert len(r["eval"]["accuracy"]) == 10


def test_a_diverging_run_is_rolled_back_and_frozen_alone():
    cfgs = _configs()
    tr = GroupTrainer(cfgs, CPU)
    tr.run_steps(4)
    tr.check()
    good = tr.model.theta.clone()
    with torch.no_grad():
        tr.model.theta[1, :5] = float("nan")                              # run 1 breaks
    tr.run_steps(2)
    assert tr.check() == [1]
    assert tr.status == ["training", "diverged", "training"] and tr.diverged_at[1] == 6
    assert torch.equal(tr.model.theta[1], good[1])                        # rolled back to the last check
    tr.run_steps(3)
    assert torch.equal(tr.model.theta[1], good[1])                        # and frozen
    # the other runs never noticed: they match a group trained without the accident
    ref = GroupTrainer(cfgs, CPU)
    ref.run_steps(9)
    for r in (0, 2):
        torch.testing.assert_close(tr.model.theta[r], ref.model.theta[r], rtol=1e-4, atol=1e-6)
    assert torch.isfinite(tr.model.theta).all()


def test_group_fields_that_must_agree_are_named():
    with pytest.raises(TrainingError, match="batch_size"):
        check_group([tiny(), tiny(batch_size=8)])
    with pytest.raises(TrainingError, match="model"):
        check_group([tiny(), tiny(model={**tiny().model.to_dict(), "d_model": 16})])
    check_group([tiny(seed=1), tiny(seed=2, lr=0.1)])


def test_corrupt_group_checkpoint_is_a_clear_error(tmp_path):
    out = tmp_path / "g"
    out.mkdir()
    (out / "group.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="corrupt"):
        train_group(_configs(), out)


def test_train_cli_trains_a_group(tmp_path, capsys):
    from statetrack.cli import main

    out = tmp_path / "g"
    rc = main(["train", "--task", "parity_p1", "--seeds", "0", "1", "--eig-ranges", "0,1", "-1,1", "--steps", "4",
               "--d-model", "8", "--heads", "1", "--layers", "1", "--train-len", "3", "6", "--test-len", "6", "8",
               "--eval-samples", "8", "--no-analysis", "--log-every", "2", "--no-progress", "-o", str(out)])
    assert rc == 0
    names = ["deltanet_0,1_s0", "deltanet_0,1_s1", "deltanet_-1,1_s0", "deltanet_-1,1_s1"]
    assert all((out / n / "results.json").exists() for n in names)
    text = capsys.readouterr().out
    assert "4 runs in one batched group" in text and all(f"{n}: completed" in text for n in names)
    import json
    group = json.loads((out / names[0] / "results.json").read_text())["group"]
    assert group["packed"] is False and group["stream"] == "automaton"      # naive: padded; parity: its automaton
    rc = main(["train", "--task", "parity_p1", "--seeds", "0", "1", "--steps", "2", "--d-model", "8", "--heads", "1",
               "--layers", "1", "--train-len", "3", "6", "--test-len", "6", "8", "--eval-samples", "8",
               "--no-analysis", "--no-progress", "--layout", "packed", "-o", str(tmp_path / "packed")])
    assert rc == 0
    assert json.loads((tmp_path / "packed" / "deltanet_-1,1_s0" / "results.json").read_text())["group"]["packed"] is True


def test_train_cli_refuses_layout_for_a_single_run(tmp_path, capsys):
    """--layout packed/padded and --no-compile only mean something for a group: a single run refuses them (exit 2,
    one line) instead of ignoring them; the defaults train as before."""
    from statetrack.cli import main

    run = ["train", "--task", "parity", "--steps", "2", "--d-model", "8", "--heads", "1", "--layers", "1",
           "--batch-size", "4", "--train-len", "3", "6", "--test-len", "6", "8", "--eval-samples", "8",
           "--no-analysis", "--no-progress", "--device", "cpu"]
    for i, extra in enumerate((["--layout", "packed"], ["--layout", "padded"], ["--no-compile"])):
        out = tmp_path / str(i)
        assert main([*run, *extra, "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"statetrack train: error: {' '.join(extra)}") and "--seeds" in err and "\n" not in err
        assert "Traceback" not in err and not (out / "results.json").exists()
    assert main([*run, "-o", str(tmp_path / "auto")]) == 0
    assert "--layout" not in capsys.readouterr().err and (tmp_path / "auto" / "results.json").exists()


def test_a_finished_group_is_reported_not_retrained(tmp_path):
    first = train_group(_configs(), tmp_path / "g")
    stamp = (tmp_path / "g" / "run0" / "results.json").stat().st_mtime_ns
    again = train_group(_configs(), tmp_path / "g")
    assert [r["eval"]["accuracy"] for r in again] == [r["eval"]["accuracy"] for r in first]
    assert (tmp_path / "g" / "run0" / "results.json").stat().st_mtime_ns == stamp


def test_a_group_written_before_new_config_fields_still_resumes(tmp_path):
    """A checkpoint whose stored configs lack fields added since (here the model's mlp and init) resumes:
    the missing fields take their defaults; a config that really differs is still refused."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save

    from statetrack.train.batched import GROUP_META_KEY

    out = tmp_path / "g"
    assert train_group(_configs(), out, stop_after=2) is None
    path = out / "group.safetensors"
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()[GROUP_META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for c in meta["configs"]:
        del c["model"]["mlp"], c["model"]["init"]
    path.write_bytes(save(tensors, metadata={GROUP_META_KEY: json.dumps(meta)}))
    tr = GroupTrainer(_configs(), CPU)
    assert tr.load(path) == 2
    with pytest.raises(TrainingError, match="other configs"):
        GroupTrainer([c.replace(lr=0.5) for c in _configs()], CPU).load(path)


def test_a_group_in_p1s_format_is_scored_at_every_length():
    """parity_p1 trains on each word's last label; the group's evaluation scores the label after every
    prefix (Task.every_label), as the single-run loop and analyze do."""
    trainer = GroupTrainer([tiny(task="parity_p1", seed=s) for s in (0, 1)], CPU)
    for curve in trainer.evaluate(8, 10):
        assert len(curve["accuracy"]) == 10 and all(a is not None for a in curve["accuracy"])


def test_a_bracket_group_trains_on_device_words_and_scores_a_fresh_pool():
    """The context-free bracket task trains on words made on the device (no pool: a fresh word every
    draw) and is scored on a pool of CPU-made words of every length, each at its final label."""
    trainer = GroupTrainer([tiny(task="modular_arithmetic_brackets_p1", seed=s) for s in (0, 1)], CPU)
    assert trainer.stream.mode == "device" and not hasattr(trainer.stream, "_pool")
    trainer.run_steps(3)
    assert bool(torch.isfinite(trainer.model.theta).all())
    for curve in trainer.evaluate(20, 10):
        assert len(curve["accuracy"]) == 10 and all(a is not None for a in curve["accuracy"])
