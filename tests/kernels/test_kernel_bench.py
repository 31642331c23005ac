"""`statetrack bench kernels` without a GPU: its stages on tiny shapes under the interpreter (one
call per timing instead of do_bench), the parent's per-row JSON writes and verdicts, the cost model."""
import argparse
import json
import sys

import pytest
import torch

from statetrack.kernels import bench
from statetrack.kernels.delta_rule import chunk as chunk_mod


@pytest.fixture
def tiny(monkeypatch):
    """Stages on the CPU with interpreter-sized shapes; a 'timing' is one call, in ms of wall time."""
    import time

    def once(fn, grad_to_none=None, **kw):
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1e3

    monkeypatch.setattr(bench, "DEVICE", "cpu")
    monkeypatch.setattr(bench, "_bench", once)
    monkeypatch.setattr(bench, "DELTA_SHAPES", [(1, 40, 1, 16)])
    monkeypatch.setattr(bench, "PRODUCT_SHAPE", (1, 20, 1, 16))
    monkeypatch.setattr(bench, "PRODUCT_NH", (2,))
    monkeypatch.setattr(bench, "ACCURACY_SHAPE", (1, 40, 1, 16))
    monkeypatch.setattr(bench, "VARLEN_LENGTHS", (1, 65))
    monkeypatch.setattr(bench, "VARLEN_HEADS", 1)
    monkeypatch.setattr(bench, "VARLEN_K", 16)
    monkeypatch.setattr(bench, "VARLEN_DTYPES", ("float16", "float32"))   # no bf16 dots in the interpreter
    monkeypatch.setattr(bench, "TUNE_MIN_K", 16)
    monkeypatch.setattr(bench, "TUNE_CANDIDATES", bench.TUNE_CANDIDATES[:2])
    yield
    chunk_mod.FORCED.clear()


def rows_of(capsys):
    out = capsys.readouterr().out
    return [json.loads(line[4:]) for line in out.splitlines() if line.startswith("ROW ")]


class Args:
    quick = False


@pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter run of the stages; on a GPU the bench itself runs")
@pytest.mark.parametrize("section", ["delta", "product", "accuracy", "varlen", "tune", "profile"])
def test_stage_emits_rows(section, tiny, capsys):
    getattr(bench, f"section_{section}")(torch, None, Args())
    rows = rows_of(capsys)
    assert rows, "no ROW line"
    for msg in rows:
        data = msg["data"]
        assert not [k for k in data if k.endswith("_error")], data
        if section == "product":
            assert data["alt_configs"] == bench.PRODUCT_ALTS and not chunk_mod.FORCED
            for tag in ["ours_bf16"] + [f"ours_{name}_bf16" for name in bench.PRODUCT_ALTS]:
                assert data[f"{tag}_fwd_ms"] > 0 and data[f"{tag}_fwdbwd_ms"] > 0, tag
                # against float32 (a number: the interpreter's bfloat16 products are wrong, see the next test)
                assert isinstance(data[f"{tag}_worst_err_vs_fp32"], float), tag
        if section == "delta":
            for key in ["ours_bf16_fwd_ms", "ours_bf16_fwdbwd_ms"] + [f"ours_fp32_{p}_fwdbwd_ms" for p in bench.FP32_VARIANTS]:
                assert data[key] > 0, key
        if section == "accuracy" and "float32" in data["key"]:
            assert data["ours_chunk_o"] < 1e-5 and data["ours_chunk@tf32_o"] < 1e-2 and data["ours_chunk@tf32all_o"] < 1e-2
        if section == "varlen":
            assert data["worst_over_tolerance"] <= 1.0, data
        if section == "profile":      # on the CPU the table lists operators, on CUDA kernels
            # what each table holds, not how long it took (interpreter times vary with the machine's load:
            # fwd alone once read 192 ms against 178 for fwd+bwd on a busy CI runner)
            assert "error" not in data and data["fwd_us"] > 0 and data["fwdbwd_us"] > 0, data
            assert not any("Backward" in row[0] for row in data["fwd"])
            assert any("Backward" in row[0] for row in data["fwdbwd"])
            assert sum(row[2] for row in data["fwdbwd"]) > sum(row[2] for row in data["fwd"])
            assert data["fwdbwd"][0][1] >= data["fwdbwd"][-1][1]
    if section == "profile":
        assert [(r["data"]["op"], r["data"]["who"]) for r in rows] == [("delta_rule", "ours"), ("delta_product", "ours")]
    assert not chunk_mod.FORCED, "a stage left launch settings forced"


@pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter run; on a GPU the bench itself runs")
def test_compile_jobs_cover_the_stages_and_run(tiny):
    jobs = bench.compile_jobs()
    assert ("delta_rule", 40, 1, 16, 1, "float32", "chunk", bench.FP32_VARIANTS["tf32"]) in jobs
    assert [j for j in jobs if j[0] == "delta_product"] and [j for j in jobs if j[6] == "fused_recurrent"]
    assert len([j for j in jobs if j[0] == "delta_rule" and j[7] in bench.TUNE_CANDIDATES[1:]]) == len(bench.TUNE_CANDIDATES) - 1
    for over in bench.PRODUCT_ALTS.values():
        assert {j[4] for j in jobs if j[0] == "delta_product" and j[7] == over} == set(bench.PRODUCT_NH)
    job, secs, err = bench._compile_job(("delta_rule", 40, 1, 16, 1, "float32", "chunk", {"split_o": True}))
    assert err is None and secs > 0
    job, secs, err = bench._compile_job(("delta_rule", 40, 1, 200, 1, "float32", "chunk", {}))
    assert "K <= 128" in err                                  # a failing job is reported, not raised
    assert not chunk_mod.FORCED


@pytest.mark.skipif(torch.cuda.is_available(), reason="would compile a variant no other GPU test uses")
def test_compile_stage_reports_every_job_from_its_worker_processes(monkeypatch, capsys):
    """The pool machinery (spawned workers; on this CPU machine each job fails for want of CUDA)."""
    jobs = [("delta_rule", 40, 1, 16, 1, "float32", "chunk", {})] * 3
    monkeypatch.setattr(bench, "compile_jobs", lambda: jobs)
    monkeypatch.setattr(bench, "COMPILE_WORKERS", 2)
    bench.section_compile(torch, None, Args())
    rows = rows_of(capsys)
    assert len(rows) == 3 and all(r["section"] == "compile" and r["data"]["error"] for r in rows)


def parent_with_children(monkeypatch, fake_child):
    """The bench's parent on a pretend CUDA device named "fake", its stages run by fake_child."""
    monkeypatch.setattr(bench, "_run_child", fake_child)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "fake")


def fake_rows():
    shape = [8, 2048, 8, 64, 64]
    delta = {"shape": shape, "ours_bf16_fwd_ms": 0.2, "ours_bf16_fwdbwd_ms": 0.6, "fla_bf16_fwd_ms": 0.3,
             "fla_bf16_fwdbwd_ms": 1.8, "ours_fp32_tf32x3_fwdbwd_ms": 2.0, "ours_fp32_tf32_fwdbwd_ms": 1.0,
             "ours_fp32_tf32all_fwdbwd_ms": 0.7}   # fastest, but its error (2e-3) is over TF32_HOLDS
    return [("env", {"copy_GBps": 4000.0, "bf16_TFLOPs": 700.0}), ("delta_rule", delta),
            ("accuracy_vs_fp64", {"key": "beta<=2 float32", "ours_chunk_o": 1e-6, "ours_chunk@tf32_o": 5e-4,
                                  "ours_chunk@tf32all_o": 2e-3}),
            ("profile", {"op": "delta_rule", "n_h": None, "shape": shape, "who": "ours", "fwd": [["_state_fwd", 150.0, 1.0]],
                         "fwdbwd": [["_grads_bwd", 300.0, 1.0], ["_state_fwd", 150.0, 1.0]], "fwd_us": 150.0,
                         "fwdbwd_us": 450.0})]


def test_parent_writes_json_after_every_row_and_judges_bars(tmp_path, monkeypatch, capsys):
    out = tmp_path / "k.json"
    log = tmp_path / "tests.log"
    log.write_text("===== 40 passed, 2 skipped in 95.3s =====\n")
    sizes = []

    def fake_child(section, args, deadline, log_fn, on_row):
        for sec, data in (fake_rows() if section == "env" else []):
            on_row({"section": sec, "data": dict(data)})
            sizes.append(("ceilings" if sec == "env" else sec) in json.loads(out.read_text()))
        return {"status": "ok", "elapsed_s": 0.0}

    parent_with_children(monkeypatch, fake_child)
    assert bench.main(["-o", str(out), "--no-fla", "--tests-log", str(log), "--commit", "abc"]) == 0
    assert sizes == [True] * 4, "the JSON file was not rewritten after each row"
    res = json.loads(out.read_text())
    assert res["commit"] == "abc" and res["device"] == "fake" and "torch" in res and "triton" in res
    v = res["verdicts"]
    small = v["delta_rule (8, 2048, 8, 64) fwdbwd bf16 vs fla"]
    assert small["ratio"] == pytest.approx(3.0) and small["met"]
    assert v["delta_rule (8, 2048, 8, 64) fwd bf16 vs fla"]["ratio"] == pytest.approx(1.5)
    fp32 = v["delta_rule (8, 2048, 8, 64) fp32 / bf16 fwdbwd"]
    assert fp32["fp32_products"] == "tf32" and fp32["ratio"] == pytest.approx(1.0 / 0.6) and fp32["met"]
    assert not v["delta_rule (4, 8192, 16, 128) fwdbwd bf16 vs fla"]["met"]      # no data: not met
    assert v["GPU kernel tests green"]["met"]
    row = res["delta_rule"][0]
    assert 0 < row["ours_bf16_fwdbwd_roofline_fraction"] < 1
    assert res["profile"][0]["fwdbwd_us"] == 450.0
    assert "profile delta_rule (8, 2048, 8, 64) ours: fwd 150 us, fwd+bwd 450 us; longest: _grads_bwd 300" \
        in capsys.readouterr().out


def test_resume_keeps_finished_stages_of_the_same_commit_and_runs_the_rest(tmp_path, monkeypatch, capsys):
    """A call that ran out of time is finished by another: its ok stages are kept (not compile), the
    others run; a file of another commit is refused with one line."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    ran, cut = [], [True]

    def fake_child(section, args, deadline, log_fn, on_row):
        ran.append(section)
        if section == "env":
            on_row({"section": "env", "data": {"copy_GBps": 4000.0, "bf16_TFLOPs": 700.0}})
        if section == "accuracy":
            on_row({"section": "accuracy_vs_fp64", "data": {"key": "beta<=2 float32", "ours_chunk_o": 1e-7}})
        if section == "delta" and cut[0]:
            return {"status": "cut at the time budget", "elapsed_s": 1.0}
        return {"status": "ok", "elapsed_s": 0.0}

    parent_with_children(monkeypatch, fake_child)
    assert bench.main(["-o", str(first), "--no-fla", "--commit", "abc", "--skip", "product,tune"]) == 0
    assert ran == ["env", "compile", "accuracy", "varlen", "delta", "profile"]
    ran.clear()
    cut[0] = False
    assert bench.main(["-o", str(second), "--no-fla", "--commit", "abc", "--resume", str(first)]) == 0
    assert ran == ["compile", "delta", "product", "tune"]
    res = json.loads(second.read_text())
    assert res["ceilings"]["copy_GBps"] == 4000.0 and res["accuracy_vs_fp64"][0]["ours_chunk_o"] == 1e-7
    assert all(res["stages"][st]["status"] == "ok" for st in bench.SECTIONS)
    assert bench.main(["-o", str(second), "--no-fla", "--commit", "other", "--resume", str(first)]) == 2
    assert "measured at abc" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter run of the stages; on a GPU the bench itself runs")
def test_a_resumed_timing_stage_skips_the_rows_it_had(tiny, capsys, monkeypatch):
    """A cut delta / product / profile stage run again under --resume measures only the rows it lacks."""
    monkeypatch.setattr(bench, "DELTA_SHAPES", [(1, 40, 1, 16), (1, 20, 1, 16)])
    monkeypatch.setattr(bench, "DONE", {bench._row_id("delta", {"op": "delta_rule", "shape": [1, 40, 1, 16, 16]}),
                                        bench._row_id("product", {"op": "delta_product", "n_h": 2,
                                                                  "shape": [1, 20, 1, 16, 16]})})
    bench.section_delta(torch, None, Args())
    assert [m["data"]["shape"] for m in rows_of(capsys)] == [[1, 20, 1, 16, 16]]
    bench.section_product(torch, None, Args())
    assert rows_of(capsys) == []


def test_resume_goes_on_past_the_rows_a_cut_stage_had(tmp_path, monkeypatch):
    """The parent keeps a cut timing stage's rows, hands the stage's child the file to skip them by, and
    says how many rows came from where; a cut tune stage runs again whole."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"

    def fake_child(section, args, deadline, log_fn, on_row):
        if section in ("delta", "tune"):
            n = 1 if args.resume is None else 2
            for i in range(n):
                sec = "delta_rule" if section == "delta" else "tune"
                on_row({"section": sec, "data": {"op": "delta_rule", "shape": [1, 40 + i, 1, 16, 16], "config": {}}})
            if args.resume is None:
                return {"status": "cut at the time budget", "elapsed_s": 1.0}
        return {"status": "ok", "elapsed_s": 0.0}

    parent_with_children(monkeypatch, fake_child)
    assert bench.main(["-o", str(first), "--no-fla", "--commit", "abc", "--skip", "product,profile"]) == 0
    assert bench.main(["-o", str(second), "--no-fla", "--commit", "abc", "--resume", str(first)]) == 0
    res = json.loads(second.read_text())
    assert len(res["delta_rule"]) == 3 and res["stages"]["delta"]["rows_from"] == {"resume": 1, "this call": 2}
    assert len(res["tune"]) == 2 and "rows_from" not in res["stages"]["tune"]      # tune: run again whole
    args = type("A", (), dict(config=[], no_fla=True, quick=False, shapes=None, candidates=None, resume=str(first)))
    assert bench._child_cmd("delta", args)[-2:] == ["--resume", str(first)]
    assert "--resume" not in bench._child_cmd("tune", args)


def test_verdicts_fail_on_slow_or_inaccurate_numbers():
    res = {"delta_rule": [{"shape": [4, 8192, 16, 128, 128], "ours_bf16_fwdbwd_ms": 5.3, "fla_bf16_fwdbwd_ms": 2.85,
                           "ours_bf16_fwd_ms": 1.0, "fla_bf16_fwd_ms": 1.2, "ours_fp32_tf32x3_fwdbwd_ms": 40.0,
                           "ours_fp32_tf32_fwdbwd_ms": 6.0}],
           "accuracy_vs_fp64": [{"key": "beta<=2 float32", "ours_chunk_o": 2e-5, "ours_chunk@tf32_o": 3e-3,
                                   "ours_chunk@tf32all_o": 3e-3}],
           "gpu_tests": bench.parse_pytest_log("== 1 failed, 60 passed in 99.0s ==")}
    v = bench.verdicts(res)
    name = "delta_rule (4, 8192, 16, 128)"
    assert not v[f"{name} fwdbwd bf16 vs fla"]["met"] and v[f"{name} fwd bf16 vs fla"]["met"]
    fp32 = v[f"{name} fp32 / bf16 fwdbwd"]                 # tf32 too inaccurate: tf32x3 counts, 7.5x
    assert fp32["fp32_products"] == "tf32x3" and not fp32["met"]
    assert not v["float32 chunk accuracy vs fp64 (tf32x3 products, shipped)"]["met"]
    assert not v["GPU kernel tests green"]["met"]
    slow = bench.parse_pytest_log("== 61 passed in 196.0s ==")
    assert not bench.verdicts({"gpu_tests": slow})["GPU kernel tests green"]["met"]


def test_fp32_ratio_takes_the_float32_settings_that_ship_where_the_tuned_bf16_config_is_slower_on_float32():
    """The tune times its bf16 winner on float32 too, but float32 inputs ship with settings of their own (the
    float32 row): per product setting the faster float32 time counts, and the verdict says whose it is."""
    shape = [4, 8192, 16, 128, 128]
    shipped, fast = (dict(c) for c in bench.TUNE_CANDIDATES[:2])
    res = {"delta_rule": [{"shape": shape, "ours_bf16_fwdbwd_ms": 2.4, "fla_bf16_fwdbwd_ms": 2.9,
                           "ours_bf16_fwd_ms": 0.9, "fla_bf16_fwd_ms": 1.0, "ours_fp32_tf32x3_fwdbwd_ms": 24.0}],
           "tune": [{"shape": shape, "config": shipped, "ours_bf16_fwdbwd_ms": 2.4, "ours_bf16_fwd_ms": 0.9,
                     "worst_err_vs_fp32": 1e-2},
                    {"shape": shape, "config": fast, "ours_bf16_fwdbwd_ms": 2.0, "ours_bf16_fwd_ms": 0.8,
                     "worst_err_vs_fp32": 1e-2},
                    {"shape": shape, "config": fast, "fp32_of_best": True, "ours_fp32_tf32x3_fwdbwd_ms": 40.0}]}
    name = "delta_rule (4, 8192, 16, 128)"
    v = bench.verdicts(res)
    assert v[f"{name} fwdbwd bf16 vs fla"]["config"] == fast
    fp32 = v[f"{name} fp32 / bf16 fwdbwd"]
    assert fp32["ratio"] == pytest.approx(24.0 / 2.0) and fp32["fp32_settings"] == "shipped"
    res["tune"][2]["ours_fp32_tf32x3_fwdbwd_ms"] = 10.0        # now the tuned config is faster on float32 too
    fp32 = bench.verdicts(res)[f"{name} fp32 / bf16 fwdbwd"]
    assert fp32["ratio"] == pytest.approx(10.0 / 2.0) and fp32["fp32_settings"].startswith("tune")


def test_cost_model_matches_the_issue():
    """Issue 13: fwd+bwd at (4, 8192, 16, 128) bf16 moves about 1.5 GB."""
    assert bench.min_bytes(4, 8192, 16, 128, 128, 2, backward=True) == pytest.approx(1.5e9, rel=0.1)
    assert bench.chunk_flops(1, 64, 1, 64, 64) == 2.0 * (3 + 2 + 3) * 64**3


def test_bench_refuses_bad_options(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--skip", "nonsense"])
    assert e.value.code == 2 and "unknown stage" in capsys.readouterr().err


def test_tuned_settings_count_only_when_faster_and_as_accurate():
    shape = [4, 8192, 16, 128, 128]
    shipped, fast_wrong, fast_ok = (dict(c) for c in bench.TUNE_CANDIDATES[:3])
    res = {"delta_rule": [{"shape": shape, "ours_bf16_fwdbwd_ms": 5.0, "fla_bf16_fwdbwd_ms": 3.0,
                           "ours_bf16_fwd_ms": 2.0, "fla_bf16_fwd_ms": 1.0}],
           "tune": [{"shape": shape, "config": shipped, "ours_bf16_fwdbwd_ms": 5.0, "ours_bf16_fwd_ms": 2.0,
                     "worst_err_vs_fp32": 1e-2},
                    {"shape": shape, "config": fast_wrong, "ours_bf16_fwdbwd_ms": 1.0, "ours_bf16_fwd_ms": 0.5,
                     "worst_err_vs_fp32": 5e-2},
                    {"shape": shape, "config": fast_ok, "ours_bf16_fwdbwd_ms": 1.5, "ours_bf16_fwd_ms": 0.9,
                     "worst_err_vs_fp32": 1.2e-2}]}
    v = bench.verdicts(res)["delta_rule (4, 8192, 16, 128) fwdbwd bf16 vs fla"]
    assert v["config"] == fast_ok and v["ratio"] == pytest.approx(2.0) and v["met"]
    res["tune"][2]["worst_err_vs_fp32"] = 2e-2                 # now too inaccurate as well
    v = bench.verdicts(res)["delta_rule (4, 8192, 16, 128) fwdbwd bf16 vs fla"]
    assert v["config"] == "shipped" and not v["met"]


def test_a_suggested_row_is_one_that_differs_from_what_ships_at_its_shape():
    """The tune's fastest candidate is suggested only where CONFIG with the shape's SHAPE_CONFIG row is
    not already the same settings (a candidate spelling CONFIG's own values out is no new row)."""
    from statetrack.kernels.delta_rule.chunk_config import CONFIG, SHAPE_CONFIG
    kmin, tmin, _, row, _ = SHAPE_CONFIG[0]
    shape = [4, tmin, 16, kmin, kmin]
    base = dict(bench.TUNE_CANDIDATES[0])
    spare = next(k for k in CONFIG if k not in row)                 # a default the row leaves alone
    spelled = {**base, **row, spare: CONFIG[spare]}                 # the shipped row, that default spelled out
    other = {**row, "grads_warps": 2 * row["grads_warps"]}
    tune = [{"shape": shape, "config": base, "ours_bf16_fwdbwd_ms": 5.0, "worst_err_vs_fp32": 1e-2},
            {"shape": shape, "config": spelled, "ours_bf16_fwdbwd_ms": 3.0, "worst_err_vs_fp32": 1e-2}]
    assert bench.suggested_rows(tune) == []
    tune.append({"shape": shape, "config": other, "ours_bf16_fwdbwd_ms": 2.0, "worst_err_vs_fp32": 1e-2})
    assert bench.suggested_rows(tune) == [[kmin, tmin, ["bfloat16", "float16"], other]]
    # below the row's T, CONFIG alone ships: the row's settings are then new
    short = [dict(r, shape=[4, tmin // 2, 16, kmin, kmin]) for r in tune[:2]]
    assert bench.suggested_rows(short) == [[kmin, tmin // 2, ["bfloat16", "float16"], spelled]]


def test_a_product_row_is_suggested_for_an_alternative_faster_both_ways_within_the_error_slack():
    """suggested_product_rows: per n_h, the shipped row at the product's shape with the fastest (fwd)
    admissible alternative over it, kept to that n_h; none where every alternative is slower one way or
    too inaccurate."""
    from statetrack.kernels.delta_rule.chunk_config import shape_row
    alts = {"a": {"state_bv": 16}, "b": {"state_stages": 3}, "c": {"state_precision": "bf16"}}
    row = {"op": "delta_product", "n_h": 2, "shape": [8, 2048, 8, 64, 64], "alt_configs": alts,
           "ours_bf16_fwd_ms": 1.0, "ours_bf16_fwdbwd_ms": 2.0, "ours_bf16_worst_err_vs_fp32": 1e-2,
           "ours_a_bf16_fwd_ms": 0.8, "ours_a_bf16_fwdbwd_ms": 2.1, "ours_a_bf16_worst_err_vs_fp32": 1e-2,
           "ours_b_bf16_fwd_ms": 0.9, "ours_b_bf16_fwdbwd_ms": 1.9, "ours_b_bf16_worst_err_vs_fp32": 1e-2,
           "ours_c_bf16_fwd_ms": 0.7, "ours_c_bf16_fwdbwd_ms": 1.5, "ours_c_bf16_worst_err_vs_fp32": 2e-2}
    expected = [[64, 2048, ["bfloat16", "float16"], {**shape_row(64, 2048, "bfloat16", 2), "state_stages": 3}, [2, 2]]]
    assert bench.suggested_product_rows([row]) == expected           # a: slower fwd+bwd; c: error 2x
    row["ours_c_bf16_worst_err_vs_fp32"] = 1.4e-2
    assert bench.suggested_product_rows([row])[0][3]["state_precision"] == "bf16"
    row["ours_b_bf16_fwd_ms"] = row["ours_c_bf16_fwd_ms"] = 1.1
    assert bench.suggested_product_rows([row]) == []


def test_autotuned_choices_read_the_tuners_cache_through_heuristics(monkeypatch):
    """The profile stage records fla's autotuned launch settings: every Autotuner (also one wrapped in
    triton.heuristics) of a module under the prefix, with what its cache holds; untuned ones are left out."""
    import types

    import triton
    import triton.language as tl

    @triton.jit
    def kern(x, n: tl.constexpr):
        pass
    tuned = triton.autotune(configs=[triton.Config({}, num_warps=2)], key=["n"])(kern)
    wrapped = triton.heuristics({"m": lambda args: 1})(
        triton.autotune(configs=[triton.Config({}, num_warps=4)], key=["n"])(kern))
    untouched = triton.autotune(configs=[triton.Config({}, num_warps=8)], key=["n"])(kern)
    tuned.cache[(64,)] = triton.Config({"BV": 32}, num_warps=2, num_stages=3)
    wrapped.fn.cache[(128,)] = triton.Config({"BV": 64}, num_warps=4)
    mod = types.ModuleType("fla.fake")
    mod.a, mod.b, mod.c = tuned, wrapped, untouched
    monkeypatch.setitem(sys.modules, "fla.fake", mod)
    got = bench.autotuned_choices("fla.fake")
    assert set(got) == {"a", "b"}
    assert "BV: 32" in got["a"]["(64,)"] and "num_stages: 3" in got["a"]["(64,)"]
    assert "BV: 64" in got["b"]["(128,)"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="interpreter run on CPU tensors; on a GPU the bench itself runs")
def test_error_against_float32_is_small_for_the_kernel_and_large_for_a_wrong_output(monkeypatch):
    """The product and tune stages' error column, in float16 (the interpreter's bfloat16 dots are
    wrong): DeltaProduct's chunk kernel against its own float32 result, then a call whose output is off
    by 5 % and one whose gradients are cut off from one input."""
    from statetrack.kernels import delta_product
    monkeypatch.setattr(bench, "DEVICE", "cpu")
    ours = lambda q, k, v, b: delta_product(q, k, v, b, backend="chunk")  # noqa: E731
    xs = [x.requires_grad_() for x in bench._inputs(torch, 1, 20, 1, 16, 16, torch.float16, 2.0, n_h=2)]
    do = torch.randn(1, 20, 1, 16, generator=torch.Generator().manual_seed(4))
    ref = bench._outputs(ours, [x.detach().float() for x in xs], do)
    row = {}
    bench._error_vs(ref, ours, xs, do, row, "ok", "ok_error")
    bench._error_vs(ref, lambda *a: (ours(*a)[0] * 1.05,), xs, do, row, "scaled", "scaled_error")
    bench._error_vs(ref, lambda q, k, v, b: ours(q, k, v.detach(), b), xs, do, row, "cut", "cut_error")
    assert row["ok"] < 5e-3 and row["scaled"] > 0.04
    assert "cut" not in row and "cut_error" in row          # v.grad is None: recorded, not raised


def test_product_verdicts_carry_the_cuda_graph_ratio():
    row = {"op": "delta_product", "n_h": 2, "shape": [8, 2048, 8, 64, 64], "ours_bf16_fwd_ms": 0.4,
           "fla_bf16_fwd_ms": 0.8, "ours_bf16_fwd_graph_ms": 0.4, "fla_bf16_fwd_graph_ms": 0.32,
           "ours_bf16_fwdbwd_ms": 1.0, "fla_bf16_fwdbwd_ms": 2.0}
    v = bench.verdicts({"delta_product": [row]})["delta_product n_h=2 (8, 2048, 8, 64) fwd bf16 vs fla"]
    assert v["ratio"] == pytest.approx(2.0) and v["met"] and v["ratio_as_cuda_graphs"] == pytest.approx(0.8)
    assert v["config"] == "shipped"
    name = "delta_product n_h=2 (8, 2048, 8, 64) fwdbwd bf16 vs fla"
    assert "ratio_as_cuda_graphs" not in bench.verdicts({"delta_product": [row]})[name]     # not captured
    row.update(ours_bf16_fwdbwd_graph_ms=0.5, fla_bf16_fwdbwd_graph_ms=0.45)
    assert bench.verdicts({"delta_product": [row]})[name]["ratio_as_cuda_graphs"] == pytest.approx(0.9)


def test_a_tuned_verdict_carries_no_graph_time_of_the_shipped_settings():
    """Where the tune's faster config stands in for the shipped one, every ours_bf16 column is the tune's: a
    CUDA-graph time the delta stage took of the shipped settings must not sit beside it as if of the same."""
    shape = [8, 2048, 8, 64, 64]
    shipped, fast = (dict(c) for c in bench.TUNE_CANDIDATES[:2])
    res = {"delta_rule": [{"shape": shape, "ours_bf16_fwdbwd_ms": 1.0, "fla_bf16_fwdbwd_ms": 2.6,
                           "ours_bf16_fwd_ms": 0.3, "fla_bf16_fwd_ms": 0.6, "ours_bf16_fwdbwd_graph_ms": 0.5,
                           "fla_bf16_fwdbwd_graph_ms": 0.46}],
           "tune": [{"shape": shape, "config": shipped, "ours_bf16_fwdbwd_ms": 1.0, "ours_bf16_fwd_ms": 0.3,
                     "worst_err_vs_fp32": 1e-2},
                    {"shape": shape, "config": fast, "ours_bf16_fwdbwd_ms": 0.9, "ours_bf16_fwd_ms": 0.3,
                     "worst_err_vs_fp32": 1e-2}]}
    v = bench.verdicts(res)["delta_rule (8, 2048, 8, 64) fwdbwd bf16 vs fla"]
    assert v["config"] == fast and "ratio_as_cuda_graphs" not in v
    res["tune"][1]["ours_bf16_fwdbwd_graph_ms"] = 0.46
    v = bench.verdicts(res)["delta_rule (8, 2048, 8, 64) fwdbwd bf16 vs fla"]
    assert v["ratio_as_cuda_graphs"] == pytest.approx(1.0)


def test_product_verdicts_take_an_admissible_faster_alternative_and_name_it():
    """Like the delta rule's tune: an alternative timed beside the shipped settings, faster both ways and
    within the error slack, is what the verdict reports (its settings named); a faster but less accurate
    one is not."""
    alt = {"state_precision": "bf16"}
    row = {"op": "delta_product", "n_h": 2, "shape": [8, 2048, 8, 64, 64], "alt_configs": {"alt": alt},
           "ours_bf16_fwd_ms": 0.5, "ours_bf16_fwdbwd_ms": 1.0, "ours_bf16_worst_err_vs_fp32": 1e-2,
           "ours_bf16_fwd_graph_ms": 0.5, "ours_alt_bf16_fwd_ms": 0.4, "ours_alt_bf16_fwdbwd_ms": 0.8,
           "ours_alt_bf16_fwd_graph_ms": 0.32, "ours_alt_bf16_worst_err_vs_fp32": 1.2e-2,
           "fla_bf16_fwd_ms": 0.44, "fla_bf16_fwdbwd_ms": 1.6, "fla_bf16_fwd_graph_ms": 0.32}
    key = "delta_product n_h=2 (8, 2048, 8, 64) {} bf16 vs fla"
    v = bench.verdicts({"delta_product": [row]})
    assert v[key.format("fwd")]["ratio"] == pytest.approx(1.1) and v[key.format("fwd")]["config"] == alt
    assert v[key.format("fwd")]["ratio_as_cuda_graphs"] == pytest.approx(1.0)
    assert v[key.format("fwdbwd")]["ratio"] == pytest.approx(2.0) and v[key.format("fwdbwd")]["met"]
    row["ours_alt_bf16_worst_err_vs_fp32"] = 2e-2
    v = bench.verdicts({"delta_product": [row]})
    assert v[key.format("fwd")]["ratio"] == pytest.approx(0.88) and v[key.format("fwd")]["config"] == "shipped"


def test_time_pair_adds_the_graph_time_on_cuda_and_records_its_failure(monkeypatch):
    """The forward and the forward+backward replayed as CUDA graphs are columns of their own (the latter
    with its gradients set to None before each call, as in the eager timing); a capture failure names itself
    and leaves the eager times in place (the CUDA path with the timers faked)."""
    monkeypatch.setattr(bench, "DEVICE", "cuda")
    monkeypatch.setattr(bench, "_bench", lambda fn, grad_to_none=None, **kw: (fn(), 1.0)[1])
    xs = [torch.randn(2, 3, requires_grad=True)]
    call = lambda x: (x * 2,)                                                 # noqa: E731
    row = {}
    reset = []

    def graph(fn, grad_to_none=None):
        reset.append(grad_to_none)
        fn()
        return 0.25
    monkeypatch.setattr(bench, "_bench_graph", graph)
    bench._time_pair(torch, call, xs, row, "ours_bf16")
    assert row == {"ours_bf16_fwd_ms": 1.0, "ours_bf16_fwdbwd_ms": 1.0, "ours_bf16_fwd_graph_ms": 0.25,
                   "ours_bf16_fwdbwd_graph_ms": 0.25}
    assert reset == [None, xs] and xs[0].grad is None

    def refuse(fn, grad_to_none=None):
        raise RuntimeError("operation not permitted when stream is capturing")
    monkeypatch.setattr(bench, "_bench_graph", refuse)
    row = {}
    bench._time_pair(torch, call, xs, row, "fla_bf16")
    assert row["fla_bf16_fwdbwd_ms"] == 1.0 and "capturing" in row["fla_bf16_fwd_graph_error"]
    assert "capturing" in row["fla_bf16_fwdbwd_graph_error"]


def test_kernel_table_is_per_call_longest_first_and_drops_idle_events():
    from types import SimpleNamespace as E
    events = [E(key="a", count=10, self_device_time_total=50.0), E(key="b", count=5, self_device_time_total=400.0),
              E(key="cpu-only", count=5, self_device_time_total=0.0)]
    assert bench.kernel_table(events, 5) == [["b", 80.0, 1.0], ["a", 10.0, 2.0]]


def test_a_narrowed_run_takes_known_shapes_and_candidates_and_names_what_is_wrong(capsys):
    """--shapes / --candidates pick a subset for a short device call; anything else is refused by name
    before CUDA is looked for."""
    shapes, cands = bench.narrow("4,8192,16,128", "0,7-8")
    assert shapes == [(4, 8192, 16, 128)]
    assert cands == [bench.TUNE_CANDIDATES[0], bench.TUNE_CANDIDATES[7], bench.TUNE_CANDIDATES[8]]
    assert bench.narrow(None, None) == (list(bench.DELTA_SHAPES), list(bench.TUNE_CANDIDATES))
    for argv, msg in ((["--shapes", "4,8192,16,96"], "is not one of the bench's shapes (8,2048,8,64;"),
                      (["--shapes", "4,x"], "'4,x' is not B,T,H,K"),
                      (["--candidates", "0,99"], "[99] outside 0-"),
                      (["--candidates", "a-b"], "'a-b' is not an index or a range"),
                      (["--candidates", "9-7"], "'9-7' is not an index or a range"),
                      (["--candidates=-1"], "'-1' is not an index or a range"),
                      (["--shapes", ";"], "';' names no shape")):
        with pytest.raises(SystemExit) as e:
            bench.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert msg in err and err.strip().count("\n") == 0, err


def test_config_values_are_checked_before_cuda_is_looked_for(capsys):
    """--config: every setting takes its own kind (an inheriting one, state_bwd_*, its source's), counts
    are at least 1, block sizes and warps powers of two; each refusal is one line, exit 2."""
    for argv, msg in ((["--config", "state_bwd_bv=abc"], "state_bwd_bv takes a value of type int, got 'abc'"),
                      (["--config", "grads_split=maybe"], "grads_split takes a value of type bool, got 'maybe'"),
                      (["--config", "par_bv=0"], "par_bv must be at least 1, got 0"),
                      (["--config", "state_bwd_stages=-2"], "state_bwd_stages must be at least 1, got -2"),
                      (["--config", "state_bwd_bv=48"], "state_bwd_bv must be a power of two, got 48"),
                      (["--config", "grads_warps=3"], "grads_warps must be a power of two, got 3"),
                      (["--config", "grads_scratch=fp8"], "grads_scratch takes one of float32, dw16, 16bit, got 'fp8'"),
                      (["--config", "nope=1"], "unknown key 'nope'")):
        try:
            with pytest.raises(SystemExit) as e:
                bench.main(argv)
        finally:
            chunk_mod.FORCED.clear()
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert msg in err and err.strip().count("\n") == 0, err
    try:
        bench._apply_config(["state_bwd_bv=64", "state_bwd_stages=3", "grads_split=no"], argparse.ArgumentParser())
        assert chunk_mod.FORCED == {"state_bwd_bv": 64, "state_bwd_stages": 3, "grads_split": False}
    finally:
        chunk_mod.FORCED.clear()
