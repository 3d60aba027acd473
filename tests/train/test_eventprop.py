"""EventProp (train/eventprop.py): its gradients are the exact gradients of the sub-step model.

(a) Against autograd (BPTT) of the same sub-step model written independently here: dense tap
    tensors built from the weights and delays, a step-by-step forward in plain torch ops whose
    spike-time fraction ``phi`` is differentiable. Both compute the gradient of one function;
    in float64 they agree to 1e-9 relative (summation order only).
(b) Against central finite differences of EventProp's own forward loss (sub-step model), for
    weights and delays of every layer, feed-forward and recurrent. Each coordinate is checked
    only where the spike raster is the same at +eps and -eps (the loss is differentiable
    there); the test asserts that most coordinates qualify and that hidden-layer weights get
    non-zero spike-time gradients (the part a surrogate-free method must get from EventProp's
    jumps). Central differences at eps = 1e-4 and 5e-5, Richardson-extrapolated (the eps**2
    term cancels; a spike close to grazing the threshold gives third derivatives of 1e5 and
    more, through 1 / (v[t] - vbar[t-1])); the forward's own rounding noise (about 1e-13: the
    event sums are accumulated in no fixed order) divided by eps is 1e-9. Measured on the first
    case: the plain difference is off by 2e-10 at eps = 1e-4 and by 3e-7 at eps = 1e-7
    (rounding), so 1e-5 relative plus 1e-9 absolute leaves a margin. The loss is
    piecewise smooth and the hat kernels are linear between integers, so delays are drawn
    away from integers.
(c) The grid forward is the model's forward: float (``substep=False``) equals the BPTT
    forward of ``SpikingNet``; quantized, it equals it bit for bit.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from ranvier.train.eventprop import EventLayer, EventNet, eventprop

F64 = torch.float64


def _net(
    sizes,
    recurrent,
    max_delay,
    *,
    substep=True,
    keeps=(0.8, 0.9),
    threshold=1.0,
    act_scale=1.0,
    readout_keep=1.0,
):
    layers = []
    for n, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        last = n == len(sizes) - 2
        layers.append(
            EventLayer(
                n_in,
                n_out,
                current_keep=keeps[0],
                voltage_keep=keeps[1] if not last else readout_keep,
                threshold=threshold,
                act_scale=act_scale,
                spiking=not last,
                recurrent=recurrent and not last,
                max_delay=max_delay,
            )
        )
    return EventNet(tuple(layers), substep=substep, logit_scale=0.1 / threshold, record=True)


def _params(net, gen, gain=1.5, rec_gain=0.6, delays=True):
    params = []
    for layer in net.layers:
        w = (torch.rand(layer.n_out, layer.n_in, generator=gen, dtype=F64) * 2 - 0.6) * gain
        w = w / math.sqrt(layer.n_in) * 2
        d = None
        if delays and layer.max_delay:
            # fractions in [0.15, 0.85]: away from the integers where the hat kernel bends
            k = torch.randint(0, layer.max_delay, (layer.n_out, layer.n_in), generator=gen)
            d = k.to(F64) + 0.15 + 0.7 * torch.rand(k.shape, generator=gen, dtype=F64)
        wr = dr = None
        if layer.recurrent:
            wr = torch.rand(layer.n_out, layer.n_out, generator=gen, dtype=F64) * 2 - 1
            wr = wr * rec_gain
            if delays:
                k = torch.randint(0, layer.max_delay, (layer.n_out, layer.n_out), generator=gen)
                dr = k.to(F64) + 0.15 + 0.7 * torch.rand(k.shape, generator=gen, dtype=F64)
        params += [w, d, wr, dr]
    return [None if p is None else p.requires_grad_(True) for p in params]


def _input(gen, batch, n_in, steps, density=0.25):
    return (torch.rand(batch, n_in, steps, generator=gen) < density).to(F64)


# --- the independent reference: autograd through the sub-step model -------------------------


def _tap_tensors(w, d, max_delay, lags, clamp):
    """Dense taps by lag after the spike's step: value part at 1 + k, 2 + k; phi part at k
    (at least 1 for a recurrent synapse) and 1 + k; weights (1 - f) and f."""
    if d is None:
        k = torch.zeros(w.shape, dtype=torch.long)
        f = torch.zeros_like(w)
    else:
        k = torch.floor(d.detach()).clamp(0, max_delay).long()
        f = d - k
    hot = lambda idx: torch.nn.functional.one_hot(idx, lags).to(F64)  # noqa: E731
    value = hot(k + 1) * (w * (1 - f)).unsqueeze(-1) + hot(k + 2) * (w * f).unsqueeze(-1)
    near = k.clamp(min=1) if clamp else k
    phi = hot(near) * (w * (1 - f)).unsqueeze(-1) + hot(k + 1) * (w * f).unsqueeze(-1)
    return value, phi


def reference(x, net, params):
    """Logits of the sub-step model, plain torch ops (autograd = BPTT of that model); with
    ``net.substep`` False, of the grid model with the spike-time fraction passed straight
    through (0 in the forward, its gradient kept): the gradient EventProp trains with."""
    lags = net.ring
    batch, steps = x.shape[0], x.shape[-1]
    taps, rec_taps = [], []
    for n, layer in enumerate(net.layers):
        w, d, wr, dr = params[4 * n : 4 * n + 4]
        taps.append(_tap_tensors(w, d, layer.max_delay, lags, clamp=False))
        rec_taps.append(
            _tap_tensors(wr, dr, layer.max_delay, lags, True) if layer.recurrent else None
        )
    zero_in = torch.zeros(batch, net.layers[0].n_in, dtype=F64)
    src = [([x[:, :, t] for t in range(steps)], [zero_in] * steps)]  # value and phi streams
    src += [([], []) for _ in net.layers]
    u = [torch.zeros(batch, layer.n_out, dtype=F64) for layer in net.layers]
    vbar = [torch.zeros_like(z) for z in u]
    membrane = []
    for t in range(steps):
        for n, layer in enumerate(net.layers):
            a = torch.zeros_like(u[n])
            for lag in range(min(t, lags - 1) + 1):
                hv, hp = taps[n]
                a = (
                    a
                    + src[n][0][t - lag] @ hv[:, :, lag].t()
                    + src[n][1][t - lag] @ hp[:, :, lag].t()
                )
                if rec_taps[n] is not None and lag >= 1:
                    rv, rp = rec_taps[n]
                    own = src[n + 1]
                    a = (
                        a
                        + own[0][t - lag] @ rv[:, :, lag].t()
                        + own[1][t - lag] @ rp[:, :, lag].t()
                    )
            u[n] = layer.current_keep * u[n] + layer.act_scale * a
            v = layer.voltage_keep * vbar[n] + u[n]
            if not layer.spiking:
                membrane.append(v)
                vbar[n] = v
                continue
            s = (v > layer.threshold).to(F64)
            rise = torch.where(s > 0, v - vbar[n], torch.ones_like(v))
            phi = torch.where(s > 0, (v - layer.threshold) / rise, torch.zeros_like(v))
            if not net.substep:  # the grid: phi is 0 in the forward, its gradient kept
                phi = phi - phi.detach()
            src[n + 1][0].append(s * (1 - phi))
            src[n + 1][1].append(s * phi)
            vbar[n] = v * (1 - s)
    return torch.stack(membrane, -1).sum(-1) * net.logit_scale


def _loss(logits, y):
    return torch.nn.functional.cross_entropy(logits, y)


def _grads(loss, params):
    live = [p for p in params if p is not None]
    got = torch.autograd.grad(loss, live)
    it = iter(got)
    return [None if p is None else next(it) for p in params]


CASES = [
    ("feed-forward", (6, 8, 7, 3), False, 4),
    ("recurrent", (6, 9, 3), True, 4),
    ("recurrent, no delays", (6, 9, 3), True, 0),
    ("deep recurrent", (5, 7, 6, 3), True, 3),
]


#: (substep, hardware units): the exact sub-step gradient, and the grid model's (the one
#: training uses), in threshold units and in the quantized forward's units (input x 64,
#: threshold vth_mant << 6, logits / threshold, a leaky read-out)
MODES = [(True, False), (False, False), (False, True)]


@pytest.mark.parametrize(("substep", "hardware"), MODES)
@pytest.mark.parametrize(("name", "sizes", "recurrent", "max_delay"), CASES)
def test_eventprop_equals_autograd_of_the_substep_model(
    name, sizes, recurrent, max_delay, substep, hardware
):
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    units = {"act_scale": 64.0, "threshold": 64.0 * 100, "readout_keep": 0.75} if hardware else {}
    net = _net(sizes, recurrent, max_delay, substep=substep, **units)
    params = _params(net, gen, delays=max_delay > 0)
    if hardware:  # the same dynamics in units 100x the threshold units
        params = [
            None if p is None or n % 2 else (p.detach() * 100).requires_grad_()
            for n, p in enumerate(params)
        ]
    x = _input(gen, 4, sizes[0], 30)
    y = torch.randint(0, sizes[-1], (4,), generator=gen)
    logits, _, hidden = eventprop(x, net, params)
    assert all(float(h.sum()) > 0 for h in hidden), "a silent layer makes the check empty"
    mine = _grads(_loss(logits, y), params)
    ref_logits = reference(x, net, params)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-12, atol=1e-12)
    ref = _grads(_loss(ref_logits, y), params)
    for n, (g, r) in enumerate(zip(mine, ref, strict=True)):
        if r is None:
            assert g is None
            continue
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12, msg=f"parameter {n}")
    hidden_w = mine[0 if len(sizes) == 3 else 4]
    assert float(hidden_w.abs().sum()) > 0


def _raster(x, net, params):
    with torch.no_grad():
        logits, _, hidden = eventprop(x, net, params)
    return logits, torch.cat([h.flatten() for h in hidden])


@pytest.mark.parametrize(("name", "sizes", "recurrent", "max_delay"), CASES[:2])
def test_eventprop_matches_finite_differences(name, sizes, recurrent, max_delay):
    gen = torch.Generator().manual_seed(7 + sum(map(ord, name)))
    net = _net(sizes, recurrent, max_delay)
    params = _params(net, gen)
    x = _input(gen, 3, sizes[0], 30)
    y = torch.randint(0, sizes[-1], (3,), generator=gen)
    logits, _, _ = eventprop(x, net, params)
    grads = _grads(_loss(logits, y), params)
    eps = 1e-4
    checked = skipped = spike_time = 0
    for n, p in enumerate(params):
        if p is None:
            continue
        flat = p.detach().view(-1)
        for idx in torch.randperm(flat.numel(), generator=gen)[:12].tolist():
            diffs, rasters = [], []
            for step in (eps, eps / 2):
                values = []
                for sign in (1, -1):
                    trial = [None if q is None else q.detach().clone() for q in params]
                    trial[n].view(-1)[idx] += sign * step
                    lg, raster = _raster(x, net, trial)
                    values.append(float(_loss(lg, y)))
                    rasters.append(raster)
                diffs.append((values[0] - values[1]) / (2 * step))
            if not all(torch.equal(rasters[0], r) for r in rasters[1:]):
                skipped += 1
                continue
            fd = (4 * diffs[1] - diffs[0]) / 3  # Richardson: the eps**2 term cancels
            got = float(grads[n].view(-1)[idx])
            assert abs(got - fd) <= 1e-5 * abs(fd) + 1e-9, (n, idx, got, fd)
            checked += 1
            layer = n // 4
            if n % 4 == 0 and layer < len(net.layers) - 1 and abs(got) > 1e-9:
                spike_time += 1  # a hidden layer's weight: credit only through spike times
    assert checked >= 0.8 * (checked + skipped), (checked, skipped)
    assert spike_time >= 3


@pytest.mark.parametrize(
    ("delays", "recurrent"), [("none", False), ("interp", False), ("none", True), ("interp", True)]
)
def test_grid_forward_is_the_model_forward(delays, recurrent):
    """substep=False runs the model's own network: the float forward equals SpikingNet's
    BPTT forward (float32, summation order only), the quantized one bit for bit; recurrent
    blocks included (train/recurrent.py's ring buffer against EventProp's event delivery)."""
    from ranvier.train.config import ModelConfig
    from ranvier.train.eventprop import model_net
    from ranvier.train.model import SpikingNet

    torch.manual_seed(3)
    cfg = ModelConfig(
        hidden=[16, 16],
        neuron="CUBA",
        delays=delays,
        max_delay=5,
        dropout=0.0,
        delay_init="uniform",
        recurrent=recurrent,
    )
    model = SpikingNet(12, 3, cfg)
    x = (torch.rand(8, 12, 40) < 0.2).float()
    model.calibrate_(x, 0.1)
    model.eval()
    for quantized in (False, True):
        if quantized:
            model.start_qat()
        with torch.no_grad():
            logits, hidden, membrane = model(x, quantized=quantized)
            net, params = model_net(model, quantized, record=True)
            mine, mine_membrane, mine_hidden = eventprop(x, net, params)
        assert all(float(h.sum()) > 0 for h in hidden)
        for a, b in zip(hidden, mine_hidden, strict=True):
            assert torch.equal(a.to(b.dtype), b)
        if quantized:
            assert torch.equal(membrane, mine_membrane)
            torch.testing.assert_close(logits, mine, rtol=1e-12, atol=0)
        else:
            torch.testing.assert_close(membrane, mine_membrane, rtol=1e-5, atol=1e-5)


# --- the user's side: config, CLI, a run that deploys exactly ------------------------------

EP_TINY = """
[model]
hidden = [12]
neuron = "{neuron}"
delays = "{delays}"
max_delay = 6
dropout = {dropout}
recurrent = {recurrent}
delay_init = "uniform"
init_rate = 0.1

[train]
epochs = 2
qat_epochs = 1
batch_size = 16
verify_samples = 24
gradient = "eventprop"

[data]
dataset = "tempo"
train_samples = 48
valid_samples = 24
test_samples = 24
"""


def _ep_config(tmp_path, neuron="CUBA", delays="interp", dropout=0.0, recurrent="false"):
    path = tmp_path / "ep.toml"
    path.write_text(
        EP_TINY.format(neuron=neuron, delays=delays, dropout=dropout, recurrent=recurrent)
    )
    return path


@pytest.mark.parametrize("recurrent", ["false", "true"])
def test_eventprop_run_learns_and_deploys_exactly(tmp_path, recurrent):
    """`ranvier train` with gradient = "eventprop" (feed-forward and recurrent, delays on
    every synapse): weights and delays move, and the exported file verifies with 0
    mismatches on every layer."""
    import json

    from ranvier.convert import read_netx
    from ranvier.train.checkpoint import load_checkpoint
    from ranvier.train.config import load_config
    from ranvier.train.model import SpikingNet
    from typer.testing import CliRunner

    from ranvier.cli import app

    config = _ep_config(tmp_path, recurrent=recurrent)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", "--config", str(config), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    verify = summary["verify"]
    assert verify["mismatches"] == 0 and verify["file_matches"]
    assert all(layer["mismatches"] == 0 for layer in verify["layers"])
    assert verify["layers"][0]["spikes"] > 0
    net = read_netx(out / "model.net")
    kind = "dense_rec" if recurrent == "true" else "dense"
    assert net.blocks[0].synapse.layer_type == kind
    cfg = load_config(config)
    trained = load_checkpoint(out / "checkpoint.pt").model
    fresh = SpikingNet(trained.n_in, trained.n_classes, cfg.model, seed=cfg.train.seed)
    names = ("weight", "delay") + (("weight_rec", "delay_rec") if recurrent == "true" else ())
    moved = [(0, name) for name in names] + [(1, "weight"), (1, "delay")]  # and the read-out
    for block, name in moved:
        before = getattr(fresh.blocks[block], name).detach()
        after = getattr(trained.blocks[block], name).detach()
        assert not torch.allclose(before, after), f"block {block} {name} did not move"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"neuron": "ALIF"}, "model.neuron"),
        ({"neuron": "ADLIF"}, "model.neuron"),
        ({"delays": "dcls"}, "model.delays"),
        ({"dropout": 0.5}, "model.dropout"),
    ],
)
def test_eventprop_refuses_what_it_cannot_train(tmp_path, overrides, field):
    """One line naming train.gradient and the field to change; exit 2; nothing written."""
    from typer.testing import CliRunner

    from ranvier.cli import app

    config = _ep_config(tmp_path, **overrides)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1, result.output
    assert "train.gradient" in lines[0] and field in lines[0]
    assert "Traceback" not in result.output
    assert not (out / "checkpoint.pt").exists()


def test_gradient_flag_overrides_the_config(tmp_path):
    """`--gradient eventprop` on an AdLIF+ preset is refused as the config field would be."""
    from typer.testing import CliRunner

    from ranvier.cli import app

    result = CliRunner().invoke(
        app, ["train", "--preset", "demo", "--gradient", "eventprop", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2, result.output
    assert "train.gradient: eventprop trains CUBA" in result.output
