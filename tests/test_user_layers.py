"""A layer of the user's own (`model.activation=my_layers.Swish`), run from the folder that holds
my_layers.py: the scratch model calls its backward, the mlp differentiates through its forward,
so gradcheck and compare=true check the backward and name the class when it is wrong."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import QUIET, read_metrics, run_script, the_one_error_line

from experiments.errors import ConfigError
from experiments.layer_paths import check_layer_path, import_layer_class, is_layer_path

MY_LAYERS = '''
import torch
from torch import nn


class Swish:
    """a = z s, s = sigmoid(z); da/dz = s + z s (1 - s)."""

    def forward(self, z):
        self.z, self.s = z, torch.sigmoid(z)
        return z * self.s

    def backward(self, grad):
        return grad * (self.s + self.z * self.s * (1 - self.s))


class BadSwish(Swish):
    def backward(self, grad):
        return grad * self.s  # the z s (1 - s) term forgotten


class NoBackward:
    def forward(self, z):
        return z


class Scaled(nn.Module):
    """a = alpha z, a parameter of its own: dL/dalpha = sum(grad z), dL/dz = alpha grad."""

    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(1.5))

    def forward(self, z):
        self.z = z
        return self.alpha * z

    def backward(self, grad):
        self.alpha.grad = (grad * self.z).sum()
        return grad * self.alpha
'''
# Hidden layers of the user's, a sigmoid output: xor's lr=2 leaves a bounded output well-behaved.
XOR = ["experiment=xor", "model.output_activation=sigmoid"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "my_layers.py").write_text(MY_LAYERS)
    return tmp_path


def in_folder(folder: Path, script: str, *args: str):
    """`python <repo>/scripts/<script> ARGS` from `folder`, its run written to folder/run."""
    extra = [f"hydra.run.dir={folder / 'run'}"] if script == "train.py" else []
    return run_script(script, *args, *extra, cwd=folder, timeout=300)


# The user's layer as the activation, or as an entry among the layers (after the first hidden
# layer's activation: layer 2, the next Linear `3.weight`): the override, the layout gradcheck
# prints, the layer's place, and the first parameter above it (whose gradient passes).
PLACES = {
    "activation": ("model.activation={}", "2-4-1 my_layers.Swish/sigmoid", 1, "2.weight"),
    "entry": ("model.hidden=[4,{}]", "2-4-(my_layers.Swish)-1 sigmoid/sigmoid", 2, "3.weight"),
}


@pytest.mark.slow
@pytest.mark.parametrize("place", PLACES)
def test_gradcheck_passes_a_right_backward_and_names_a_wrong_one(folder: Path, place) -> None:
    override, layout, layer, above = PLACES[place]
    args = [*XOR, "model.activation=sigmoid"]
    right = in_folder(folder, "gradcheck.py", *args, override.format("my_layers.Swish"))
    assert right.returncode == 0, right.stdout + right.stderr
    assert layout in right.stdout
    assert f"{above}  " in right.stdout, "the next Linear sits after the user's layer"
    assert right.stdout.splitlines()[-1].startswith("PASS")
    wrong = in_folder(folder, "gradcheck.py", *args, override.format("my_layers.BadSwish"))
    assert wrong.returncode == 1
    verdict = wrong.stdout.splitlines()[-1]
    assert verdict.startswith("FAIL: 0.weight (vs finite differences and autograd), 0.bias")
    assert above not in verdict, "the layers above the user's passed"
    assert f"most likely the backward of your my_layers.BadSwish (layer {layer})" in verdict


@pytest.mark.slow
def test_compare_stops_a_wrong_backward_naming_the_class_and_the_step(folder: Path) -> None:
    args = [*XOR, "compare=true", "model.activation=my_layers.BadSwish"]
    done = in_folder(folder, "train.py", *args)
    error = the_one_error_line(done)
    assert "part at step 0: the gradient of 0.bias differs by" in error
    assert "most likely your my_layers.BadSwish (layer 1)" in error
    assert read_metrics(folder / "run")["status"] == "failed"


@pytest.mark.slow
def test_compare_passes_a_right_backward(folder: Path) -> None:
    args = [*XOR, *QUIET, "compare=true", "model.activation=my_layers.Swish"]
    done = in_folder(folder, "train.py", *args, "trainer.max_steps=300")
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    metrics = read_metrics(folder / "run")
    assert metrics["parity/max_grad_diff"] < 1e-5
    assert metrics["parity/max_weight_diff"] < 1e-5


@pytest.mark.slow
def test_the_mlp_trains_xor_through_the_users_forward(folder: Path) -> None:
    args = [*XOR, *QUIET, "model=mlp", "model.activation=my_layers.Swish"]
    done = in_folder(folder, "train.py", *args)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    metrics = read_metrics(folder / "run")
    assert metrics["train/loss"] < 1e-3
    assert metrics["test/acc"] == 1


@pytest.mark.parametrize(
    ("activation", "says"),
    [
        ("nowhere.Swish", "model.activation=nowhere.Swish: no module nowhere in {folder}: "),
        ("my_layers.Gone", "model.activation=my_layers.Gone: module my_layers has no class Gone"),
        (
            "my_layers.NoBackward",
            "model.activation=my_layers.NoBackward: class NoBackward has no backward(self, grad) "
            "method",
        ),
    ],
)
@pytest.mark.slow
def test_a_path_that_does_not_import_or_lacks_backward_is_one_line(
    folder: Path, activation: str, says: str
) -> None:
    done = in_folder(folder, "train.py", "experiment=xor", f"model.activation={activation}")
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1 and "Traceback" not in output, output[-2000:]
    assert len(output.splitlines()) == 1, output
    assert says.format(folder=folder) in output


def test_dotted_names_are_layer_paths() -> None:
    assert is_layer_path("my_layers.Swish") and is_layer_path("pkg.mod.Swish")
    assert not any(map(is_layer_path, ["sigmoid", "my_layers.", ".Swish", "a.1b", None, 3]))


def test_the_check_reads_the_source_without_running_it(tmp_path: Path, monkeypatch) -> None:
    """The config check finds the class in the source (a module that fails on import passes it);
    the import, at build time, is where that module's error shows, in one line."""
    (tmp_path / "late_fail.py").write_text(
        textwrap.dedent("""
        class Layer:
            def forward(self, z):
                return z

            def backward(self, grad):
                return grad

        raise RuntimeError("boom")
        """)
    )
    (tmp_path / "broken_syntax.py").write_text("class Layer:\n    def forward(self, z)\n")
    check_layer_path("model.activation", "late_fail.Layer", tmp_path)
    assert "late_fail" not in sys.modules
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="importing late_fail failed: RuntimeError: boom"):
        import_layer_class("model.activation", "late_fail.Layer")
    with pytest.raises(ConfigError, match=r"broken_syntax.py line 2: "):
        check_layer_path("model.activation", "broken_syntax.Layer", tmp_path)
    assert str(tmp_path) not in sys.path, "the working folder is on sys.path for the import only"


def test_a_class_with_a_base_or_a_name_bound_otherwise_is_left_to_the_import(tmp_path) -> None:
    (tmp_path / "indirect.py").write_text(
        "from torch import nn\nclass Base:\n    def backward(self, grad): ...\n"
        "class Child(Base):\n    def forward(self, z): ...\nAlias = Child\n"
        "class Plain:\n    def forward(self, z): ...\n"
    )
    for name in ("Child", "Alias"):
        check_layer_path("model.activation", f"indirect.{name}", tmp_path)
    with pytest.raises(ConfigError, match="class Plain has no backward"):
        check_layer_path("model.activation", "indirect.Plain", tmp_path)


def test_both_networks_hold_the_users_parameters_alike(folder: Path, monkeypatch) -> None:
    """A user layer with an nn.Parameter: the same state_dict keys in both models, loaded from
    one into the other; the scratch gradients (the user's backward) equal autograd's."""
    from experiments.models import MLPModule, ScratchModule

    (folder / "own_params.py").write_text(MY_LAYERS)  # a name no other test imports
    monkeypatch.chdir(folder)
    keys = dict(n_inputs=2, n_outputs=1, hidden=[3], activation="own_params.Scaled", lr=0.1)
    try:
        torch.manual_seed(0)
        scratch = ScratchModule(**keys).double()
        mlp = MLPModule(**keys).double()
    finally:
        sys.modules.pop("own_params", None)
    assert list(scratch.state_dict()) == list(mlp.state_dict())
    assert "net.1.layer.alpha" in scratch.state_dict()
    mlp.load_state_dict(scratch.state_dict())
    x, y = torch.rand(5, 2, dtype=torch.float64), torch.rand(5, 1, dtype=torch.float64)
    scratch.loss_and_gradients(x, y)
    mlp.compute_loss(mlp(x), y).backward()
    for (name, ours), theirs in zip(scratch.named_parameters(), mlp.parameters(), strict=True):
        torch.testing.assert_close(ours.grad, theirs.grad, msg=name)
    assert "own_params.Scaled" in repr(scratch.net)


# An entry among the layers: model.hidden=[4, my_layers.Swish] puts the user's layer after the
# first hidden layer's activation, as layer 2 of the chain.
ENTRY = [*XOR, "model.activation=sigmoid"]


@pytest.mark.slow
def test_compare_stops_a_wrong_layer_entry_naming_it(folder: Path) -> None:
    args = [
        *ENTRY,
        "compare=true",
        "model.hidden=[4,my_layers.BadSwish,3]",
        "trainer.precision=64-true",
    ]
    error = the_one_error_line(in_folder(folder, "train.py", *args))
    assert "part at step 0: the gradient of 0.bias differs by" in error
    assert "most likely your my_layers.BadSwish (layer 2)" in error


def test_a_layer_entry_sits_in_the_chain_of_both_networks(folder: Path, monkeypatch) -> None:
    """[4, own.Swish, 3]: Linear, act, Swish, Linear, act, Linear, act in both models, the same
    initial weights as [4, 3] (the user's layer draws none), and the scratch gradients (through the
    user's backward) equal autograd's in float64."""
    from experiments.models import MLPModule, ScratchModule

    (folder / "own_entry.py").write_text(MY_LAYERS)  # a name no other test imports
    monkeypatch.chdir(folder)
    keys = dict(n_inputs=2, n_outputs=1, lr=0.1)
    try:
        torch.manual_seed(0)
        scratch = ScratchModule(**keys, hidden=[4, "own_entry.Swish", 3]).double()
        torch.manual_seed(0)
        mlp = MLPModule(**keys, hidden=[4, "own_entry.Swish", 3]).double()
        torch.manual_seed(0)
        plain = ScratchModule(**keys, hidden=[4, 3]).double()
    finally:
        sys.modules.pop("own_entry", None)
    assert [type(layer).__name__ for layer in mlp.net] == [
        "Linear", "Sigmoid", "UserLayer", "Linear", "Sigmoid", "Linear", "Sigmoid"
    ]  # fmt: skip
    assert list(scratch.state_dict()) == list(mlp.state_dict())
    renamed = {"net.0": "net.0", "net.2": "net.3", "net.4": "net.5"}
    for key, value in plain.state_dict().items():
        layer, name = key.rsplit(".", 1)
        assert torch.equal(scratch.state_dict()[f"{renamed[layer]}.{name}"], value)

    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.rand(5, 1, dtype=torch.float64)
    mlp.load_state_dict(scratch.state_dict())
    scratch.loss_and_gradients(x, y)
    mlp.criterion(mlp.net(x), y).backward()
    for (name, ours), theirs in zip(
        scratch.net.named_parameters(), mlp.net.parameters(), strict=True
    ):
        assert torch.allclose(ours.grad, theirs.grad, rtol=1e-10, atol=1e-14), name


def test_a_layer_entry_that_does_not_import_is_one_line(folder: Path) -> None:
    done = in_folder(folder, "train.py", "experiment=xor", "model.hidden=[4,my_layers.Gone]")
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1 and len(output.splitlines()) == 1, output
    assert "model.hidden[1]=my_layers.Gone: module my_layers has no class Gone" in output


def test_a_population_refuses_a_layer_of_your_own(folder: Path) -> None:
    """The user's forward is written for one network's batch; stacked members could break a layer
    that reduces over the batch, so the vectorized sweeper says so for every grid point."""
    sweep = folder / "sweep"
    args = ["-m", *ENTRY, "model.hidden=[4,my_layers.Swish]", "model.lr=0.5,1"]
    args += ["hydra/sweeper=vectorized", "trainer.max_steps=5", f"hydra.sweep.dir={sweep}"]
    done = run_script("train.py", *args, cwd=folder, timeout=300)
    assert done.returncode == 1
    for job in (0, 1):
        error = read_metrics(sweep / str(job))["error"]
        assert error.startswith("model.hidden[1]=my_layers.Swish: the vectorized sweeper cannot")
