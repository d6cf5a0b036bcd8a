"""``RuntimePanel``: one control per ``Runtime`` field, validated as you change it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import ipywidgets as W
import numba

from covertreex.kernels import KERNELS, kernel_by_name
from covertreex.metrics.residual import DEFAULT_JITTER, Residual
from covertreex.runtime.config import CHOICES, Runtime
from covertreex.widgets._figures import Displayed, error_html

RESIDUAL_CONTROLS = ("kernel", "variance", "lengthscale", "inducing", "jitter")


def runtime_from_values(values: dict) -> Runtime:
    """The ``Runtime`` the panel's values describe (raises ``ValueError``/``TypeError`` like ``Runtime``).

    ``batch_size`` and ``threads`` of 0 mean None (no cap / Numba's default); the residual controls
    (kernel, variance, lengthscale, inducing, jitter) make the ``Residual`` policy when metric="residual".
    """
    fields = {f.name for f in dataclasses.fields(Runtime)} - {"residual"}
    unknown = sorted(set(values) - fields - set(RESIDUAL_CONTROLS))
    if unknown:
        raise ValueError(f"unknown panel value(s) {', '.join(unknown)}")
    plain = {name: values[name] for name in fields if name in values}
    for name in ("batch_size", "threads"):
        value = plain.get(name)
        if isinstance(value, int) and value < 0:
            raise ValueError(f"{name.replace('_', ' ')} must be 0 ({'no cap' if name == 'batch_size' else 'auto'}) "
                             f"or a positive number, got {value}")
        if value == 0:
            plain[name] = None
    if plain.get("metric") == "residual":
        kernel = kernel_by_name(values.get("kernel", "rbf"), variance=values.get("variance", 1.0),
                                lengthscale=values.get("lengthscale", 1.0))
        plain["residual"] = Residual(kernel, inducing=values.get("inducing", 512), seed=values.get("seed", 0),
                                     jitter=values.get("jitter", DEFAULT_JITTER))
    return Runtime(**plain)


class RuntimePanel(Displayed):
    """Controls for every Runtime knob.  ``.runtime`` is the last valid value; ``.error`` the current
    problem (None when the controls are valid), also shown under the controls."""

    def __init__(self, runtime: Runtime | None = None):
        rt = runtime or Runtime()
        res = rt.residual
        style = {"description_width": "130px"}
        self.controls: dict[str, W.ValueWidget] = {
            name: W.Dropdown(options=allowed, value=getattr(rt, name), description=name.replace("_", " "),
                             style=style) for name, allowed in CHOICES.items()}
        self.controls.update(
            # plain IntText: a bounded one would clamp a typed -5 to 0 without a word; the panel says what is wrong
            batch_size=W.IntText(value=rt.batch_size or 0, style=style, description="batch size",
                                 tooltip="0 = no cap"),
            seed=W.IntText(value=rt.seed, description="seed", style=style),
            threads=W.IntSlider(value=rt.threads or 0, min=0, max=numba.config.NUMBA_NUM_THREADS,
                                description="threads (0=auto)", style=style),
            diagnostics=W.Checkbox(value=rt.diagnostics, description="diagnostics (time, memory)"),
            kernel=W.Dropdown(options=list(KERNELS), value=res.kernel.name if res else "rbf",
                              description="kernel", style=style),
            variance=W.FloatLogSlider(value=res.kernel.variance if res else 1.0, base=10, min=-2, max=2,
                                      description="variance", style=style),
            lengthscale=W.FloatLogSlider(value=_scalar(res.kernel.lengthscale) if res else 1.0, base=10, min=-2,
                                         max=2, description="lengthscale", style=style),
            inducing=W.IntSlider(value=res.inducing_count if res else 512, min=1, max=4096, description="inducing m",
                                 style=style),
            jitter=W.FloatLogSlider(value=res.jitter if res and res.jitter > 0 else DEFAULT_JITTER, base=10,
                                    min=-14, max=-2, description="jitter", style=style),
        )
        self.message = W.HTML()
        self.runtime = rt
        self.error: str | None = None
        self._hooks: list[Callable[[Runtime], None]] = []
        self._residual_box = W.VBox([self.controls[n] for n in RESIDUAL_CONTROLS])
        plain = [c for n, c in self.controls.items() if n not in RESIDUAL_CONTROLS]
        self.widget = W.VBox([W.HTML("<b>covertreex Runtime</b>"), *plain, self._residual_box, self.message],
                             layout=W.Layout(min_width="380px", width="380px"))
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self._show_residual()

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def on_change(self, callback: Callable[[Runtime], None]) -> None:
        """Call ``callback(runtime)`` after every change that gives a valid Runtime."""
        self._hooks.append(callback)

    def _show_residual(self) -> None:
        self._residual_box.layout.display = None if self.controls["metric"].value == "residual" else "none"

    def _changed(self, _change=None) -> None:
        self._show_residual()
        try:
            runtime = runtime_from_values(self.values)
        except (ValueError, TypeError) as exc:
            self.error = str(exc)
            self.message.value = error_html(self.error)
            return
        self.error = None
        self.message.value = ""
        self.runtime = runtime
        for hook in self._hooks:
            hook(runtime)


def _scalar(lengthscale) -> float:
    return float(lengthscale if isinstance(lengthscale, (int, float)) else lengthscale[0])
