"""moec.load and sessions: numerics against the float64 reference, the
binding checks that name the argument at fault, and the session's
lifetime."""

import json
import threading

import numpy as np
import pytest
import torch

import moec
from conftest import TOLERANCE, rel_l2


def test_numpy_in_numpy_out(session, tiny):
    y = session.tiny_mixtral(tiny.x)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert y.shape == tiny.x.shape
    assert rel_l2(y, tiny.reference(tiny.x)) <= TOLERANCE


def test_torch_in_torch_out(session, tiny):
    x = torch.from_numpy(tiny.x.copy()).requires_grad_()
    y = session.run("tiny_mixtral", hidden_states=x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert rel_l2(y.numpy(), tiny.reference(tiny.x)) <= TOLERANCE


def test_out_is_filled_in_place(session, tiny):
    out = torch.full(tiny.x.shape, float("nan"))
    got = session.tiny_mixtral(tiny.x, out=out)
    assert got is out
    assert rel_l2(out.numpy(), tiny.reference(tiny.x)) <= TOLERANCE


def test_token_counts(session, tiny):
    for t in (0, 1, 7):
        x = np.ascontiguousarray(tiny.x[:t])
        y = session.tiny_mixtral(x)
        assert y.shape == (t, 64)
        if t:
            assert rel_l2(y, tiny.reference(x)) <= TOLERANCE


def test_signature(session):
    fn = session["tiny_mixtral"]
    assert [p.name for p in fn.inputs] == ["hidden_states"]
    assert fn.inputs[0].shape == (-1, 64) and fn.inputs[0].dtype == "f32"
    assert len(fn.weights) == 4 and fn.results[0].shape == (-1, 64)
    assert "hidden_states: f32(T, 64)" in repr(fn)


@pytest.mark.parametrize("make", [
    lambda x: x.astype(np.float64),
    lambda x: x.astype(np.float16),
    lambda x: torch.from_numpy(x).to(torch.bfloat16),
    lambda x: (x * 100).astype(np.int32),
], ids=["float64", "float16", "bfloat16", "int32"])
def test_wrong_dtype_names_the_input(session, tiny, make):
    with pytest.raises(TypeError, match="input 'hidden_states' of "
                       "'tiny_mixtral' has dtype .*, expected f32"):
        session.tiny_mixtral(make(tiny.x))


def test_not_a_tensor(session, tiny):
    with pytest.raises(moec.DTypeError, match="input 'hidden_states' .* is a "
                       "list"):
        session.tiny_mixtral(tiny.x.tolist())


@pytest.mark.parametrize("shape", [(128, 32), (128,), (2, 64, 64)])
def test_wrong_shape_names_the_input(session, shape):
    x = np.zeros(shape, dtype=np.float32)
    # Caught by the package (a rank it cannot take the token count from)
    # or by moert; either names the input and the shape it takes.
    with pytest.raises(ValueError, match=r"input 'hidden_states'.* has "
                       r"shape .*(expected \(T, 64\)|takes \[T, 64\])"):
        session.tiny_mixtral(x)


@pytest.mark.parametrize("make", [
    lambda x: np.asfortranarray(x),
    lambda x: x[::2],
    lambda x: torch.from_numpy(np.ascontiguousarray(x[:64, :64].T)).T,
], ids=["fortran", "every-other-row", "torch-transposed"])
def test_non_contiguous_is_refused(session, tiny, make):
    with pytest.raises(moec.InvalidArgumentError,
                       match="input 'hidden_states' .* is not contiguous"):
        session.tiny_mixtral(make(tiny.x))


def test_out_checks(session, tiny):
    with pytest.raises(TypeError, match="output 'output' of 'tiny_mixtral' has dtype "
                       "float64, expected f32"):
        session.tiny_mixtral(tiny.x, out=np.empty(tiny.x.shape, np.float64))
    with pytest.raises(moec.InvalidArgumentError):
        session.tiny_mixtral(tiny.x, out=np.empty((3, 64), np.float32))
    with pytest.raises(moec.InvalidArgumentError):
        session.tiny_mixtral(tiny.x, out=tiny.x)  # aliases the input
    y = np.empty(tiny.x.shape, np.float32)
    with pytest.raises(moec.InvalidArgumentError, match="'tiny_mixtral' "
                       "takes 1 inputs and 1 outputs, 1 and 2 given"):
        session.tiny_mixtral(tiny.x, out=(y, y.copy()))


def test_argument_names(session, tiny):
    with pytest.raises(moec.InvalidArgumentError, match="has no input 'x'"):
        session.run("tiny_mixtral", x=tiny.x)
    with pytest.raises(moec.InvalidArgumentError, match="missing input"):
        session.run("tiny_mixtral")
    with pytest.raises(moec.InvalidArgumentError, match="given twice"):
        session.run("tiny_mixtral", tiny.x, hidden_states=tiny.x)
    with pytest.raises(moec.NotFoundError, match="no function 'nope'"):
        session.run("nope", tiny.x)
    with pytest.raises(AttributeError, match="functions: tiny_mixtral"):
        session.nope


def test_closed_session(tiny):
    s = moec.load(tiny.artifact)
    s.close()
    s.close()
    assert s.closed
    with pytest.raises(moec.FailedPreconditionError, match="closed"):
        s.tiny_mixtral(tiny.x)
    with pytest.raises(moec.FailedPreconditionError, match="closed"):
        s.bind_weights(str(tiny.weights_file))


def test_weights_bound_from_memory(tiny):
    arrays = {name: np.ascontiguousarray(a, dtype=np.float32)
              for name, a in tiny.weights.items()}
    s = moec.load(tiny.artifact, weights=arrays, threads=1)
    y = s.tiny_mixtral(tiny.x)
    assert rel_l2(y, tiny.reference(tiny.x)) <= TOLERANCE
    with pytest.raises(TypeError, match="weight 'block_sparse_moe.gate."
                       "weight' has dtype float64"):
        s.bind_weights({"block_sparse_moe.gate.weight": tiny.weights[
            "block_sparse_moe.gate.weight"]})
    with pytest.raises(moec.NotFoundError, match="no weight named 'w9'"):
        s.bind_weights({"w9": arrays["block_sparse_moe.gate.weight"]})


def test_missing_weights(tiny):
    gate = "block_sparse_moe.gate.weight"
    s = moec.load(tiny.artifact, weights={
        gate: np.ascontiguousarray(tiny.weights[gate], dtype=np.float32)})
    with pytest.raises(moec.FailedPreconditionError,
                       match="3 weights not bound: 'block_sparse_moe.experts"):
        s.tiny_mixtral(tiny.x)


def test_threads_share_one_session(session, tiny):
    expected = session.tiny_mixtral(tiny.x)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(session.tiny_mixtral(tiny.x))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 30
    for y in results:
        np.testing.assert_array_equal(y, expected)


def test_routing_statistics(session, tiny, tmp_path):
    session.record_routing(coselection=True)
    session.tiny_mixtral(tiny.x)
    session.tiny_mixtral(tiny.x[:10].copy())
    r = session.routing_counts("tiny_mixtral", coselection=True)
    assert (r.calls, r.tokens) == (2, 138)
    assert r.counts.sum() == 138 * 2
    assert r.coselection.shape == (8, 8)
    assert (np.diag(r.coselection) == 0).all()
    assert r.coselection.sum() == 138 * 2  # one pair per token, both orders
    path = tmp_path / "routing.json"
    session.write_routing(path)
    assert json.loads(path.read_text())
    with pytest.raises(moec.InvalidArgumentError, match="no site 3"):
        session.routing_counts("tiny_mixtral", site=3)


def test_bad_artifact(tmp_path):
    bad = tmp_path / "bad.so"
    bad.write_bytes(b"not an ELF file")
    with pytest.raises(moec.Error, match="bad.so"):
        moec.load(bad)
    with pytest.raises(moec.ReadError, match="missing.so"):
        moec.load(tmp_path / "missing.so")


def test_bad_options(tiny):
    with pytest.raises(ValueError, match="threads"):
        moec.load(tiny.artifact, threads=-1)
    with pytest.raises(moec.Error, match="gpu9"):
        moec.load(tiny.artifact, device="gpu9")
