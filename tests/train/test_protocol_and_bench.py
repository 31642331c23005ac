"""The GPU protocol runner and the throughput benchmark, run at their CPU smoke sizes: every finished
group lands in the bundle at once (rows, runs, verdicts), a lost bundle is rebuilt from the run
directories, and the benchmark writes ratios with their bar."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_protocol_smoke_run_collect_and_verdicts(tmp_path):
    out, work = tmp_path / "p.json", tmp_path / "work"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "protocol_gpu.py"), "--quick", "--out", str(out),
           "--workdir", str(work), "--workers", "1", "--only", "words:S3:nh2", "--no-analysis"]
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
    data = json.loads(out.read_text())
    assert data["schema"] == "statetrack.train.protocol/1"
    assert sorted(r["run"] for r in data["rows"]) == ["nh2_-1,1_s0", "nh2_-1,1_s1", "nh2_-1,1_s2"]
    assert all(r["test_scaled_accuracy"] is not None and len(r["accuracy_by_length"]) == 24 for r in data["rows"])
    assert data["verdicts"]["parity_deltanet"]["complete"] is False          # no parity rows: the bar is not claimed
    # the bundle is lost; the run directories rebuild it
    out.unlink()
    subprocess.run(cmd[:2] + ["--quick", "--out", str(out), "--collect", str(work)], check=True, env=env,
                   capture_output=True, timeout=300)
    again = json.loads(out.read_text())
    assert [r["test_scaled_accuracy"] for r in again["rows"]] == [r["test_scaled_accuracy"] for r in data["rows"]]
    assert again["groups"]["words:S3:nh2"]["seconds"] is None                 # collected, not trained here
    # a rerun skips the group already in the bundle; --replace trains it again and replaces its rows
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
    assert json.loads(out.read_text())["groups"]["words:S3:nh2"]["seconds"] is None
    subprocess.run(cmd + ["--replace"], check=True, env=env, capture_output=True, timeout=600)
    replaced = json.loads(out.read_text())
    assert replaced["groups"]["words:S3:nh2"]["seconds"] > 0
    assert [r["test_scaled_accuracy"] for r in replaced["rows"]] == [r["test_scaled_accuracy"] for r in data["rows"]]
    # --select writes matching groups as a bundle of their own, rows rebuilt from the stored results
    sub = tmp_path / "sub.json"
    subprocess.run(cmd[:2] + ["--out", str(sub), "--select", "words:S3:*", "--from", str(out), "--note", "n"],
                   check=True, env=env, capture_output=True, timeout=300)
    part = json.loads(sub.read_text())
    assert part["note"] == "n" and list(part["groups"]) == ["words:S3:nh2"]
    assert [(r["run"], r["grad_clip"], r["test_scaled_accuracy"]) for r in part["rows"]] == \
        [(r["run"], 1.0, r["test_scaled_accuracy"]) for r in replaced["rows"]]
    bad = subprocess.run(cmd[:2] + ["--out", str(tmp_path / "x.json"), "--select", "nothing:*", "--from", str(out)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "matches" in bad.stderr


@pytest.mark.slow
def test_bench_train_writes_ratios_and_verdicts(tmp_path):
    from statetrack.train.throughput import main

    out = tmp_path / "t.json"
    assert main(["--quick", "--out", str(out), "--batches", "4", "--runs", "1", "2", "--steps", "2", "--padded"]) == 0
    data = json.loads(out.read_text())
    kinds = [(r["trainer"], r["backend"], r["runs"], r.get("packed")) for r in data["rows"]]
    # the naive backend trains padded by default, so --padded adds no row (it does with fused_recurrent)
    assert kinds == [("single", "naive", 1, None), ("batched", "naive", 1, False), ("batched", "naive", 2, False)]
    assert [r["seeds"] for r in data["rows"]] == [[0], [0], [0, 1]]
    assert data["backends"] == ["naive"] and data["compiled"] is False         # CPU: naive kernels, eager stages
    v = data["verdicts"]["batched_N2_batch4_naive_vs_single"]
    assert v["bar"] == 10.0 and v["met"] == (v["ratio"] >= 10.0) and v["ratio"] > 0
    single = data["rows"][0]["ms_per_step"]
    assert v["ratio"] == pytest.approx(2 / data["rows"][2]["ms_per_step"] * single) and v["packed"] is False
    from statetrack.train.throughput import p1_config, time_batched
    dt, packed = time_batched(p1_config(4, "naive", "cpu", quick=True), 2, 1, graph=False, packed=True)
    assert packed and dt > 0
    assert data["device"] == "cpu" and data["git"].keys() >= {"commit", "dirty"}


@pytest.mark.slow
def test_bench_train_quick_is_small_and_never_writes_the_gpu_results(tmp_path, monkeypatch):
    """--quick alone is a smoke run: small default sizes, written to ./train_throughput_quick.json. (It used to
    time P1's batches at N up to 24, over 13 minutes on CPU, and write benchmarks/results/train_throughput_gpu.json,
    the committed GPU file, when run from the repository root.)"""
    from statetrack.train.throughput import GPU_OUT, QUICK, QUICK_OUT, main

    monkeypatch.chdir(tmp_path)
    (tmp_path / GPU_OUT).parent.mkdir(parents=True)
    assert main(["--quick"]) == 0
    assert not (tmp_path / GPU_OUT).exists()
    rows = json.loads((tmp_path / QUICK_OUT).read_text())["rows"]
    assert {r["batch"] for r in rows} == set(QUICK["batches"])
    assert [r["runs"] for r in rows if r["trainer"] == "batched"] == QUICK["runs"]


@pytest.mark.slow
def test_bench_train_merges_calls_per_batch_and_refuses_other_commits(tmp_path, capsys):
    """Two calls (one batch size each) join into one file; each batch's rows come from one call."""
    from statetrack.cli import main as cli
    from statetrack.train.throughput import main

    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "m.json"
    common = ["--quick", "--runs", "1", "--steps", "1"]
    assert main(common + ["--out", str(a), "--batches", "2"]) == 0
    assert main(common + ["--out", str(b), "--batches", "3"]) == 0
    assert main(["--merge", str(a), str(b), "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    rows = lambda f: json.loads(f.read_text())["rows"]                      # noqa: E731
    assert merged["rows"] == rows(a) + rows(b)
    assert sorted(merged["verdicts"]) == ["batched_N1_batch2_naive_vs_single", "batched_N1_batch3_naive_vs_single"]
    assert [m["batches"] for m in merged["merged_from"]] == [[2], [3]]
    other = json.loads(b.read_text())
    other["git"]["commit"] = "0" * 40
    b.write_text(json.dumps(other))
    assert cli(["bench", "train", "--merge", str(a), str(b), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "was measured at 0000" in err and err.strip().count("\n") == 0


def load_protocol():
    """benchmarks/protocol_gpu.py as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("protocol_gpu", ROOT / "benchmarks" / "protocol_gpu.py")
    proto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(proto)
    return proto


def test_protocol_arch_variants_have_their_own_groups_and_parity_verdicts(tmp_path):
    proto = load_protocol()
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    listed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "protocol_gpu.py"), "--out", str(tmp_path / "p.json"),
                             "--list", "--arch", "both"], env=env, capture_output=True, text=True, timeout=120).stdout
    names = [line.split()[0] for line in listed.splitlines()]
    assert "table3:parity_p1:deltanet+fla" in names and "words:S5:nh4+fla" in names
    assert "table3:parity_p1:diagonal+fla" not in names and "table3:parity_p1:diagonal" in names
    listed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "protocol_gpu.py"), "--out", str(tmp_path / "p.json"),
                             "--list", "--arch", "p1,ours"], env=env, capture_output=True, text=True, timeout=120).stdout
    names = [line.split()[0] for line in listed.splitlines()]
    assert "table3:parity_p1:deltanet+p1" in names and "table3:parity_p1:deltanet" in names
    assert not any(n.endswith("+fla") for n in names)
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "protocol_gpu.py"), "--out", str(tmp_path / "p.json"),
                          "--list", "--arch", "ours,mamba"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown --arch" in bad.stderr

    def rows(mlp, init, neg, pos):
        return [{"group": "table3:parity_p1:deltanet", "seed": s, "task": "parity_p1", "model": "deltanet", "mlp": mlp,
                 "init": init, "eig_range": rng, "test_scaled_accuracy": a}
                for rng, accs in (("-1,1", neg), ("0,1", pos)) for s, a in enumerate(accs)]

    v = proto.verdicts(rows("gelu", "torch", [0.9, 0.96, 0.91], [0.0] * 3) + rows("swiglu", "fla", [1.0] * 3, [0.0] * 3))
    assert v["parity_deltanet"]["complete"] and not v["parity_deltanet"]["met"]          # 1 of 3 >= 0.95
    assert v["parity_deltanet_swiglu_fla"]["met"] and not v["parity_diagonal"]["complete"]


def parity_rows(neg: dict, pos: dict, blocks=("swiglu", "p1")) -> list[dict]:
    """Parity rows of one DeltaNet cell: ``neg``/``pos`` map seed -> test scaled accuracy of [-1,1]/[0,1];
    seeds outside 0-2 land in the group of extra seeds 3-9, as ``--seeds 3-9`` names it."""
    return [{"group": "table3:parity_p1:deltanet+p1" + ("" if s in (0, 1, 2) else "@s3-9"), "seed": s,
             "run": f"deltanet_{rng}_s{s}", "task": "parity_p1", "model": "deltanet", "mlp": blocks[0],
             "init": blocks[1], "eig_range": rng, "steps": 20_000, "test_scaled_accuracy": a}
            for rng, accs in (("-1,1", neg), ("0,1", pos)) for s, a in accs.items()]


def test_protocol_extra_seeds_are_groups_of_their_own(tmp_path):
    """--seeds 3-5: every group again, with only those seeds, named <group>@s3-5; --only patterns match
    with or without the suffix; 3,4,5 names the same groups; the default is the pre-registered 0-2."""
    script = str(ROOT / "benchmarks" / "protocol_gpu.py")
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}

    def listed(*extra):
        p = subprocess.run([sys.executable, script, "--out", str(tmp_path / "p.json"), "--list", *extra], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout.splitlines()

    default, extra = listed(), listed("--seeds", "3-5")
    assert "table3:parity_p1:deltanet+p1 6 runs (seeds 0-2)" in default
    assert [line.replace(" runs (seeds 3-5)", "") for line in extra] == \
        [line.split()[0] + "@s3-5 " + line.split()[1] for line in default]
    assert "table3:parity_p1:deltanet+p1@s3-5 6 runs (seeds 3-5)" in extra
    for only in ("table3:parity_p1:deltanet+p1*", "table3:parity_p1:deltanet+p1", "table3:parity_p1:deltanet+p1@s3-5"):
        assert listed("--seeds", "3,5,4", "--only", only) == ["table3:parity_p1:deltanet+p1@s3-5 6 runs (seeds 3-5)"]
    assert listed("--seeds", "3-5,9", "--only", "words:S3:nh2") == ["words:S3:nh2@s3-5,9 4 runs (seeds 3-5,9)"]
    assert listed("--seeds", "2,1,0", "--only", "words:S3:nh2") == ["words:S3:nh2 3 runs (seeds 0-2)"]
    proto = load_protocol()
    assert proto.seed_suffix((3, 4, 5, 9)) == "@s3-5,9" and proto.seed_suffix((0, 1, 2)) == ""
    assert [proto.preregistered(r) for r in parity_rows({0: 1.0, 3: 1.0}, {})] == [True, False]


@pytest.mark.parametrize("spec, says", [
    pytest.param("1-5", "overlaps the pre-registered seeds", id="overlap"),
    pytest.param("2", "overlaps the pre-registered seeds", id="one-pre-registered-seed"),
    pytest.param("3-x", "such as 3-9", id="not-a-number"),
    pytest.param("5-3", "such as 3-9", id="descending"),
    pytest.param("3,,4", "such as 3-9", id="empty-part"),
])
def test_protocol_refuses_seeds_that_overlap_or_do_not_parse(tmp_path, spec, says):
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "protocol_gpu.py"), "--out", str(tmp_path / "p.json"),
                        "--list", "--seeds", spec], env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == "" and p.stderr.strip().count("\n") == 0 and says in p.stderr


def test_protocol_parity_bar_is_on_the_pre_registered_seeds_with_the_distribution_beside_it():
    proto = load_protocol()
    pre = {0: 0.97, 1: 0.98, 2: 0.90}, {0: 0.01, 1: 0.09, 2: 0.05}
    # an extra seed misses both sides of the bar: the bar is unchanged, the distribution counts it
    v = proto.verdicts(parity_rows({**pre[0], 3: 0.5, 4: 0.99}, {**pre[1], 3: 0.3, 4: 0.02}))
    v = v["parity_deltanet_swiglu_p1"]
    assert v["met"] and v["complete"] and v["neg_range"] == [0.97, 0.98, 0.90] and v["pos_range"] == [0.01, 0.09, 0.05]
    d = v["distribution"]
    assert d["seeds"] == [0, 1, 2, 3, 4]
    assert d["neg_range"] == {"runs": 5, "passing": 3, "values": [0.5, 0.90, 0.97, 0.98, 0.99]}
    assert d["pos_range"] == {"runs": 5, "passing": 4, "values": [0.01, 0.02, 0.05, 0.09, 0.3]}
    # a pre-registered seed misses: the bar is missed, however well the extra seeds do
    v = proto.verdicts(parity_rows({**pre[0], 3: 1.0, 4: 1.0}, {**pre[1], 2: 0.116, 3: 0.0, 4: 0.0}))
    v = v["parity_deltanet_swiglu_p1"]
    assert v["complete"] and not v["met"] and v["distribution"]["pos_range"]["passing"] == 4
    # extra seeds alone never make the bar complete
    v = proto.verdicts(parity_rows({3: 1.0, 4: 1.0, 5: 1.0}, {3: 0.0, 4: 0.0, 5: 0.0}))["parity_deltanet_swiglu_p1"]
    assert not v["complete"] and not v["met"] and v["neg_range"] == [] and v["distribution"]["neg_range"]["runs"] == 3


def test_protocol_paper_notes_take_the_best_of_the_pre_registered_three_and_add_the_distribution():
    proto = load_protocol()
    pre = {0: 0.90, 1: 0.93, 2: 0.92}, {0: 0.01, 1: 0.12, 2: 0.05}
    alone = proto.paper_notes({"rows": parity_rows(*pre)})
    assert alone == ["parity_p1, deltanet (swiglu MLP, p1 init): ours [0,1] 0.120 / [-1,1] 0.930 vs P1 0.017 / 1.000 "
                     "(best of 3, 20000 steps): same direction"]
    notes = proto.paper_notes({"rows": parity_rows({**pre[0], 3: 0.99, 4: 0.96}, {**pre[1], 3: 0.5, 4: 0.0})})
    assert notes[0] == alone[0]                 # seed 3's 0.99 (and 0.5) are not in the best of 3
    assert notes[1:] == ["parity_p1, deltanet (swiglu MLP, p1 init), 5 seeds (0-4; of them pre-registered: 0-2): "
                         "[0,1] <= 0.1 in 3 of 5 (median 0.050, min 0.000, max 0.500); "
                         "[-1,1] >= 0.95 in 2 of 5 (median 0.930, min 0.900, max 0.990)"]


def test_protocol_merge_takes_each_group_from_the_call_that_trained_it(tmp_path):
    """Device calls each start from the committed bundle; --merge joins them: a group comes from the call
    whose runs differ from the starting bundle's, and a call that left a group as it was changes nothing."""
    script = str(ROOT / "benchmarks" / "protocol_gpu.py")
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}

    def bundle(path, groups, calls):
        runs, rows = {}, []
        for g, acc in groups.items():
            runs[f"{g}:r0"] = {"name": f"{g}:r0", "ok": True, "results": {"acc": acc}, "seconds": 1.0}
            rows.append({"group": g, "run": "r0", "task": "S3", "model": "deltaproduct", "test_scaled_accuracy": acc})
        path.write_text(json.dumps({"schema": "statetrack.train.protocol/1", "runs": runs, "rows": rows,
                                    "groups": {g: {"runs": 1} for g in groups}, "calls": calls}))
        return str(path)

    base = bundle(tmp_path / "base.json", {"a": 0.1, "b": 0.2}, [{"call": 0}])
    one = bundle(tmp_path / "one.json", {"a": 0.9, "b": 0.2}, [{"call": 0}, {"call": 1}])      # trained a
    two = bundle(tmp_path / "two.json", {"a": 0.1, "b": 0.2, "c": 0.5}, [{"call": 0}, {"call": 2}])  # trained c
    out = tmp_path / "merged.json"
    p = subprocess.run([sys.executable, script, "--out", str(out), "--merge", base, one, two], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    m = json.loads(out.read_text())
    accs = {r["group"]: r["test_scaled_accuracy"] for r in m["rows"]}
    assert accs == {"a": 0.9, "b": 0.2, "c": 0.5}              # a from call 1, not reset by call 2's copy
    assert m["runs"]["a:r0"]["results"] == {"acc": 0.9} and [c["call"] for c in m["calls"]] == [0, 1, 2]
    (tmp_path / "bad.json").write_text("[1]")
    p = subprocess.run([sys.executable, script, "--out", str(out), "--merge", base, str(tmp_path / "bad.json")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "not a protocol bundle" in p.stderr


def test_protocol_replace_resumes_the_workdir_and_fresh_starts_over(tmp_path):
    """--replace retrains groups the bundle has, but goes on from the checkpoints of the same configs in
    --workdir (a call cut off on the same machine); --fresh ignores them."""
    script = str(ROOT / "benchmarks" / "protocol_gpu.py")
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    args = [sys.executable, script, "--quick", "--out", str(tmp_path / "p.json"), "--workdir", str(tmp_path / "w"),
            "--only", "table3:parity_p1:transformer", "--workers", "1", "--no-analysis"]

    def times(*extra):
        p = subprocess.run(args + list(extra), env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        runs = json.loads((tmp_path / "p.json").read_text())["runs"]
        return sorted(r["results"]["train_time_s"] for r in runs.values())

    first = times()
    assert times("--replace") == first                 # the finished runs in the workdir, reported again
    assert times("--replace", "--fresh") != first      # trained over


def test_protocol_notes_flag_a_cell_that_memorized_its_training_words():
    proto = load_protocol()

    def cell(loss, fresh):
        return [{"group": "g", "task": "modular_arithmetic_brackets_p1", "model": "deltanet", "eig_range": rng, "seed": s,
                 "steps": 100, "test_scaled_accuracy": 0.05, "final_loss": loss, "train_scaled_accuracy": fresh}
                for rng in ("0,1", "-1,1") for s in (0, 1, 2)]

    note = proto.paper_notes({"rows": cell(1e-4, 0.35)})
    assert len(note) == 1 and "memorized" in note[0] and "<= 0.350" in note[0]
    assert "memorized" not in proto.paper_notes({"rows": cell(1e-4, 0.95)})[0]      # fresh words learned
    assert "memorized" not in proto.paper_notes({"rows": cell(0.2, 0.35)})[0]       # training words not fit


def test_protocol_notes_name_the_bracket_rows_of_the_word_pool_and_the_gap_behind_a_differing_direction():
    proto = load_protocol()

    def rows(stream, neg=0.204, pos=0.161):
        return [{"group": f"table3:modular_arithmetic_brackets_p1:{stream}", "task": "modular_arithmetic_brackets_p1",
                 "model": "deltanet", "eig_range": rng, "seed": s, "steps": 100000, "commit": "c3138c1f00",
                 "stream": stream, "test_scaled_accuracy": neg if rng == "-1,1" else pos, "final_loss": 0.04,
                 "train_scaled_accuracy": 0.98} for rng in ("0,1", "-1,1") for s in (0, 1, 2)]

    assert proto.bracket_words_note({"rows": rows("device")}) == []                # fresh words only: nothing to say
    note = proto.bracket_words_note({"rows": rows("device") + rows(None)})
    assert len(note) == 1 and "brackets_p1:None (100,000 steps, c3138c1f)" in note[0]
    assert "Fresh words on the device: table3:modular_arithmetic_brackets_p1:device (100,000 steps)" in note[0]
    differs = proto.paper_notes({"rows": rows("device")})[0]
    assert "DIRECTION DIFFERS" in differs and "ours +0.043, P1 +0.066" in differs
    same = proto.paper_notes({"rows": rows("device", neg=0.30)})[0]
    assert same.endswith("same direction")


def test_protocol_parity_split_note_tells_counting_on_short_test_words_from_tracking_parity():
    """A [0,1] run right up to twice the longest training word and at chance beyond reads 1.00 then 0.50;
    a run right everywhere reads 1.00 on both halves."""
    proto = load_protocol()
    counting = [1.0] * 80 + [0.5] * 176                 # accuracy by length 1..256
    tracking = [1.0] * 256
    rows = [{"group": "table3:parity_p1:deltanet+p1", "task": "parity_p1", "model": "deltanet", "mlp": "swiglu",
             "init": "p1", "eig_range": rng, "seed": s, "train_lengths": [3, 40], "test_lengths": [40, 256],
             "accuracy_by_length": counting if rng == "0,1" else tracking} for rng in ("0,1", "-1,1") for s in (0, 1, 2)]
    assert proto.parity_split_notes({"rows": rows}) == [
        "parity_p1, deltanet (swiglu MLP, p1 init), accuracy (chance 0.5) of seeds 0-2 on the test range split at "
        "twice the longest training word: [0,1] lengths 40-80 1.00-1.00, 81-256 0.50-0.50; "
        "[-1,1] lengths 40-80 1.00-1.00, 81-256 1.00-1.00"]
