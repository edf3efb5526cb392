"""compile / fit / evaluate / predict for :class:`engine.models.Model` (as a mixin).

One training step: forward → loss (+ regularization) → output gradients (fused with the last
activation where the loss allows: softmax + crossentropy gives ``(p − y) / N`` directly) →
backward → one fused optimizer kernel over the flat parameter buffer → constraints.
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np

from engine import allocator
from engine.kernels.optimizers import all_finite
from engine.kernels.partner import partnered
from engine.layers.base import predicting
from engine.models import data_adapter as da
from engine.models.batches import ArrayBatches, BatchStream
from engine.models.functional import NonFiniteError
from engine.progbar import Progbar


class TrainingLoops:
    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True) -> None:
        from engine import losses, optimizers
        # loss=None: the model's add_loss() terms are the whole objective (checked at fit)
        self.optimizer = optimizers.get(optimizer)
        self._loss_arg, self._metrics_arg, self._loss_weights_arg = loss, metrics, loss_weights
        given = loss.values() if isinstance(loss, dict) else \
            loss if isinstance(loss, (list, tuple)) else [loss]
        for v in given:
            if v is not None:
                losses.get(v)  # fail now on a bad name, not at fit
        self.compiled = True
        self._resolved_for = None
        self._bound_key = None
        if self._plan is not None:
            self._resolve_compile()

    def _per_output(self, value, what: str, default=None) -> list:
        names = self.output_names
        if isinstance(value, dict):
            unknown = set(value) - set(names)
            if unknown:
                raise ValueError(f"compile: {what} names unknown outputs {sorted(unknown)}; the "
                                 f"outputs are {names}")
            return [value.get(n, default) for n in names]
        if isinstance(value, (list, tuple)) and what != "metrics":
            if len(value) != len(names):
                raise ValueError(f"compile: {len(value)} {what} given for {len(names)} outputs "
                                 f"({', '.join(names)})")
            return list(value)
        return [value if i == 0 or what != "metrics" else copy.deepcopy(value)
                for i in range(len(names))]

    def _resolve_compile(self) -> None:
        from engine import losses, metrics
        if self._resolved_for is self._plan:
            return
        plan = self._plan
        self._losses = [losses.get(v) if v is not None else None   # None: no loss on it
                        for v in self._per_output(self._loss_arg, "losses")]
        lw = self._per_output(self._loss_weights_arg, "loss_weights", 1.0)
        self._loss_weights = [1.0 if w is None else float(w) for w in lw]
        margs = self._metrics_arg
        if isinstance(margs, (list, tuple)) and margs and all(
                isinstance(m, (list, tuple)) or m is None for m in margs):
            per = self._per_output(list(margs), "losses")
        else:
            per = self._per_output(margs, "metrics")
        self._metrics = []
        for k, ms in enumerate(per):
            ms = [] if ms is None else (ms if isinstance(ms, (list, tuple)) else [ms])
            shape = plan.outputs[k].shape
            self._metrics.append([metrics.get(m, loss=self._losses[k], output_shape=shape)
                                  for m in ms])
        self._fuse = []
        shared = {id(s.layer) for s in getattr(plan, "steps", ()) if s.shared}
        for k, t in enumerate(plan.outputs):
            layer = t.node.layer if t.node is not None else None
            slot = plan.output_slots[k]
            ok = (layer is not None and layer.has_activation_output and not layer._runs_call
                  and plan.consumers[slot] == 0 and id(layer) not in shared
                  and len(t.node.outputs) == 1 and hasattr(layer, "_act"))
            self._fuse.append(layer if ok else None)
        self._loss_tracker_sum = 0.0
        self._loss_tracker_n = 0
        self._resolved_for = plan

    def _check_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False):
            raise RuntimeError(f"Model '{self.name}': call compile(optimizer=..., loss=...) "
                               f"before {what}()")

    # ---------------------------------------------------------------- one step
    def _compute_loss_and_grads(self, xs, ys, sw, training: bool = True):
        plan = self._plan
        outs = plan.forward(xs, training=training)
        total = 0.0
        grads = []
        self._out_losses = []
        for k, out in enumerate(outs):
            loss, y, w = self._losses[k], ys[k], self._loss_weights[k]
            if loss is None:
                self._out_losses.append(0.0)
                grads.append(None)
                continue
            own_grad = g = fused = None
            # The output layer's activation folded into the loss's gradient, for built-in losses
            # only: a subclass with its own call() has its own gradient.
            layer = self._fuse[k] if training else None
            fold = layer is not None and not loss._user_call
            if fold and sw is None:               # the loss and that gradient in one pass
                fused = loss.fused_value_and_gradient(y, out, layer._act.name)
            if fused is not None:
                value, g = fused
            elif training and loss._user_call:    # a user loss: one taped pass for both
                value, own_grad = loss.value_and_gradient(y, out, sw)
            else:
                value = float(loss(y, out, sw))
            self._out_losses.append(value)
            total += w * value
            if not training:
                continue
            if fold and g is None:
                g = loss.fused_gradient(y, out, layer._act.name)
                if g is not None and sw is not None:
                    g = g * sw.reshape((-1,) + (1,) * (g.ndim - 1)).astype(g.dtype)
            if layer is not None:
                layer.fused_output_grad = g is not None
            if g is None:
                g = own_grad if own_grad is not None else loss.gradient(y, out, sw)
            grads.append(g if w == 1.0 else g * g.dtype.type(w))
        added = plan.added_losses
        if added:
            total += sum(added)
        elif training and all(lo is None for lo in self._losses):
            raise ValueError(f"Model '{self.name}' has nothing to minimize: give compile a "
                             f"loss, or add losses with self.add_loss() in a layer's call()")
        for wt in self._regularized:
            total += float(wt.regularizer(wt.value))
        return total, outs, grads

    def _train_step(self, xs, ys, sw) -> tuple[float, list]:
        total, outs, grads = self._compute_loss_and_grads(xs, ys, sw)
        if not math.isfinite(total):
            raise self._diagnose_nonfinite(xs, total)
        self._plan.backward(grads)
        for wt in self._regularized:
            wt.grad += wt.regularizer.gradient(wt.value)
        self.optimizer.apply(self._params, self._grads)
        for wt in self._constrained:
            wt.value[...] = wt.constraint(wt.value)
        if not all_finite(self._params):
            raise _nonfinite_weight(self.weights)
        return total, outs

    def _diagnose_nonfinite(self, xs, total: float) -> NonFiniteError:
        try:
            self._plan.forward(xs, training=False, check_finite=True)
        except NonFiniteError as e:
            return NonFiniteError(f"the loss became {total}; {e}", e.layer)
        return NonFiniteError(f"the loss became {total} although every layer's output is finite; "
                              f"check the targets (y) for NaN/inf and the loss "
                              f"'{next(lo for lo in self._losses if lo).name}'", None)

    # ---------------------------------------------------------------- metrics and logs
    def _reset_metrics(self) -> None:
        self._loss_tracker_sum, self._loss_tracker_n = 0.0, 0
        self._out_tracker = [0.0] * len(self.output_names)
        for ms in self._metrics:
            for m in ms:
                m.reset_state()

    def _update_metrics(self, loss: float, ys, outs, n: int) -> None:
        self._loss_tracker_sum += loss * n
        self._loss_tracker_n += n
        for k, v in enumerate(self._out_losses):
            if v is not None:
                self._out_tracker[k] += v * n
        for k, ms in enumerate(self._metrics):
            if ys[k] is None:                     # no targets for a loss-less output
                continue
            for m in ms:
                m.update_state(ys[k], outs[k])

    def _logs(self) -> dict[str, float]:
        n = max(self._loss_tracker_n, 1)
        logs = {"loss": self._loss_tracker_sum / n}
        multi = len(self.output_names) > 1
        if multi:
            for name, v, lo in zip(self.output_names, self._out_tracker, self._losses):
                if lo is not None:
                    logs[f"{name}_loss"] = v / n
        for name, ms in zip(self.output_names, self._metrics):
            for m in ms:
                logs[f"{name}_{m.name}" if multi else m.name] = _log_value(m.result())
        return logs

    # ---------------------------------------------------------------- data
    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None):
        if self._plan is None:
            self._build_from_data(x)
        self._resolve_compile()
        xs = da.prepare_inputs(x, self._plan.input_layers)
        needed = [lo is not None for lo in self._losses]
        if y is None and not any(needed):
            ys = [None] * len(self.output_names)     # add_loss-only models need no targets
        elif y is None:
            raise ValueError(f"Model '{self.name}': targets y are required")
        else:
            ys = da.prepare_targets(y, self.output_names, len(xs[0]), needed)
        for k, yk in enumerate(ys):
            if yk is not None and hasattr(self._losses[k], "check_targets"):
                ys[k] = self._losses[k].check_targets(yk, self._plan.outputs[k].shape,
                                                      self.output_names[k])
        sw = da.prepare_sample_weight(sample_weight, len(xs[0]))
        if class_weight is not None:
            k = next(i for i, yk in enumerate(ys) if yk is not None)
            width = self._plan.outputs[k].shape[-1] if self._plan.outputs[k].shape else None
            cw = da.class_weight_to_sample_weight(class_weight, ys[k],
                                                  2 if width == 1 else width)
            sw = cw if sw is None else sw * cw
        da.check_finite(xs + ys + [sw],
                        [f"input '{lyr.name}'" for lyr in self._plan.input_layers] +
                        [f"targets of output '{n}'" for n in self.output_names] +
                        ["sample_weight"])
        return xs, ys, sw

    def _build_from_data(self, x) -> None:
        self._require_built("inputs")

    # ---------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, seed=None):
        from engine.callbacks import History
        self._check_compiled("fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = _check_batch_size(batch_size, "batch_size")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: argument 'epochs' expects a whole number >= 0, got {epochs!r}")
        for name, value in (("steps_per_epoch", steps_per_epoch),
                            ("validation_freq", validation_freq)):
            if (value is not None or name == "validation_freq") and (
                    not isinstance(value, (int, np.integer)) or isinstance(value, bool) or
                    value < 1):
                raise ValueError(f"fit: argument '{name}' expects a whole number >= 1, got "
                                 f"{value!r}")
        rng = np.random.default_rng(seed)
        if da.is_batch_source(x):
            if y is not None:
                raise ValueError("fit: when x is a generator or Sequence it yields (x, y) "
                                 "batches itself; do not pass y")
            source = BatchStream(self, x, steps_per_epoch, shuffle, rng)
            val = None if validation_data is None else self._validation_source(
                validation_data, validation_batch_size or batch_size, validation_steps)
        else:
            xs, ys, sw = self._prepare_xy(x, y, sample_weight, class_weight)
            if validation_data is None and validation_split:
                (xs_ys_sw, val_parts) = da.split_validation(xs + ys + [sw], validation_split)
                k = len(xs)
                xs, ys, sw = xs_ys_sw[:k], xs_ys_sw[k:-1], xs_ys_sw[-1]
                val = ("arrays", val_parts[:k], val_parts[k:-1], val_parts[-1])
            else:
                val = None if validation_data is None else self._validation_source(
                    validation_data, validation_batch_size or batch_size, validation_steps)
            source = ArrayBatches(xs, ys, sw, batch_size, shuffle, rng, steps_per_epoch)
        self._resolve_compile()
        self._bind_parameters()
        history = History()
        cbs = list(callbacks or []) + [history]  # last, as in Keras: it sees what others add
        params = {"epochs": epochs, "steps": source.steps, "verbose": verbose}
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        self.stop_training = False
        self.training_error = None
        _call(cbs, "on_train_begin", {})
        # each batch's logs (a dict of every metric's result) only for a progress bar or a
        # callback that has an on_train_batch_end / on_batch_end of its own
        batch_logs_wanted = verbose == 1 or any(_has_batch_end(cb) for cb in cbs)
        logs: dict[str, float] = {}
        try:
            for epoch in range(initial_epoch, epochs):
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}")
                self._reset_metrics()
                _call(cbs, "on_epoch_begin", epoch, {})
                bar = Progbar(source.steps, verbose)
                step = 0
                for step, (xb, yb, swb) in enumerate(source.epoch(), start=1):
                    _call(cbs, "on_train_batch_begin", step - 1, {})
                    try:
                        loss, outs = self._train_step(xb, yb, swb)
                    except NonFiniteError as e:
                        self._stop_nonfinite(e, epoch, step, verbose)
                        break
                    self._update_metrics(loss, yb, outs, len(xb[0]))
                    if batch_logs_wanted:
                        batch_logs = self._logs()
                        _call(cbs, "on_train_batch_end", step - 1, batch_logs)
                        bar.update(step, batch_logs)
                    if self.stop_training:
                        break
                logs = self._logs() if self._loss_tracker_n else {}
                if self.training_error is None and val is not None and \
                        (epoch + 1 - initial_epoch) % validation_freq == 0:
                    val_logs = self._evaluate_source(val, batch_size, cbs)
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                bar.finish(step, logs)
                _call(cbs, "on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
            _call(cbs, "on_train_end", logs)
        finally:
            allocator.release()   # the memory the steps kept, back to the system
        self.history = history
        return history

    def _stop_nonfinite(self, err: NonFiniteError, epoch: int, step: int, verbose: int) -> None:
        msg = f"Training stopped at epoch {epoch + 1}, batch {step}: {err}"
        self.training_error = NonFiniteError(msg, err.layer)
        self.stop_training = True
        warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose="auto",
                      callbacks=None, validation_data=None, validation_steps=None,
                      initial_epoch=0, shuffle=True, **kwargs):
        """Keras 2's name for ``fit`` on a generator."""
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data,
                        validation_steps=validation_steps, initial_epoch=initial_epoch,
                        shuffle=shuffle, **kwargs)

    # ---------------------------------------------------------------- evaluate / predict
    def _validation_source(self, data, batch_size, steps):
        if da.is_batch_source(data):
            return ("stream", data, steps)
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data must be (x_val, y_val) or (x_val, y_val, "
                             "sample_weight) or a generator/Sequence")
        xs, ys, sw = self._prepare_xy(data[0], data[1], data[2] if len(data) == 3 else None)
        return ("arrays", xs, ys, sw)

    def _evaluate_source(self, source, batch_size, cbs=()) -> dict[str, float]:
        """One pass over ``source`` without training; ``cbs`` get the ``on_test_*`` calls
        (evaluate's own callbacks, or fit's during validation, as in Keras)."""
        self._reset_metrics()
        if source[0] == "arrays":
            batches = ArrayBatches(source[1], source[2], source[3], batch_size or 32, False,
                                    None, None).epoch()
        else:
            batches = BatchStream(self, source[1], source[2], False, None).epoch()
        _call(cbs, "on_test_begin", {})
        with partnered():
            for step, (xb, yb, swb) in enumerate(batches):
                _call(cbs, "on_test_batch_begin", step, {})
                with predicting():
                    loss, outs, _ = self._compute_loss_and_grads(xb, yb, swb, training=False)
                self._update_metrics(loss, yb, outs, len(xb[0]))
                if cbs:
                    _call(cbs, "on_test_batch_end", step, self._logs())
        logs = self._logs()
        _call(cbs, "on_test_end", logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        self._check_compiled("evaluate")
        batch_size = _check_batch_size(batch_size, "batch_size")
        if da.is_batch_source(x):
            source = ("stream", x, steps)
            if self._plan is None:
                BatchStream(self, x, steps, False, None)  # builds from the first batch
        else:
            xs, ys, sw = self._prepare_xy(x, y, sample_weight)
            source = ("arrays", xs, ys, sw)
        self._resolve_compile()
        self._bind_parameters()
        cbs = _callbacks_for(self, callbacks, verbose, steps)
        before = allocator.resident()
        try:
            logs = self._evaluate_source(source, batch_size, cbs)
        finally:
            allocator.release_if_grown(before)   # the batches' memory, back to the system
        if verbose not in (0, "0") and verbose != 0:
            Progbar(None, 2).finish(0, logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        batch_size = _check_batch_size(batch_size, "batch_size")
        if da.is_batch_source(x):
            batches = (xb for xb, _, _ in
                       BatchStream(self, x, steps, False, None).epoch(need_y=False))
            many = True
        else:
            if self._plan is None:
                self._build_from_data(x)
            xs = da.prepare_inputs(x, self._plan.input_layers)
            n = len(xs[0])
            batches = ([a[i:i + batch_size] for a in xs] for i in range(0, n, batch_size))
            many = n > batch_size
        # one batch (the app's live prediction on every stroke) skips the memory check
        before = allocator.resident() if many else 0
        cbs = _callbacks_for(self, callbacks, verbose, steps)
        _call(cbs, "on_predict_begin", {})
        parts = []
        try:
            with partnered():
                for step, xb in enumerate(batches):
                    _call(cbs, "on_predict_batch_begin", step, {})
                    with predicting():
                        parts.append(self._plan.forward(xb, training=False))
                    if cbs:
                        out = parts[-1]
                        _call(cbs, "on_predict_batch_end", step,
                              {"outputs": out if len(out) > 1 else out[0]})
        finally:
            if len(parts) > 1:       # the batches' memory back to the system
                allocator.release_if_grown(before)
        _call(cbs, "on_predict_end", {})
        if not parts:
            raise ValueError(f"Model '{self.name}': predict got no samples")
        outs = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        return outs if len(outs) > 1 else outs[0]

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._check_compiled("train_on_batch")
        xs, ys, sw = self._prepare_xy(x, y, sample_weight, class_weight)
        self._bind_parameters()
        self._reset_metrics()
        loss, outs = self._train_step(xs, ys, sw)
        self._update_metrics(loss, ys, outs, len(xs[0]))
        return _result(self._logs(), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._check_compiled("test_on_batch")
        xs, ys, sw = self._prepare_xy(x, y, sample_weight)
        self._bind_parameters()
        self._reset_metrics()
        loss, outs, _ = self._compute_loss_and_grads(xs, ys, sw, training=False)
        self._update_metrics(loss, ys, outs, len(xs[0]))
        return _result(self._logs(), return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(len(np.asarray(
            x[0] if isinstance(x, (list, tuple)) else next(iter(x.values())) if isinstance(
                x, dict) else x)), 1))


def _result(logs: dict, return_dict: bool):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _log_value(result):
    """A metric's result for the logs: a float, or an array when it has several values (a
    confusion count at several thresholds); a metric variable gives its value."""
    value = np.asarray(result, dtype=np.float64)
    return float(value.reshape(-1)[0]) if value.size == 1 else value


def _callbacks_for(model, callbacks, verbose, steps) -> list:
    """evaluate's and predict's callbacks, told their model and parameters as fit does."""
    cbs = list(callbacks or [])
    params = {"epochs": 1, "steps": steps, "verbose": 1 if verbose == "auto" else verbose}
    for cb in cbs:
        cb.set_model(model)
        cb.set_params(params)
    return cbs


def _call(cbs, method: str, *args) -> None:
    for cb in cbs:
        getattr(cb, method)(*args)


def _has_batch_end(cb) -> bool:
    """Whether fit's on_train_batch_end does anything for ``cb``: not when both it and the
    on_batch_end it calls are Callback's own (set on the instance, as LambdaCallback does,
    counts as its own)."""
    from engine.callbacks import Callback
    for name in ("on_train_batch_end", "on_batch_end"):
        if getattr(getattr(cb, name, None), "__func__", None) is not getattr(Callback, name):
            return True
    return False


def _check_batch_size(batch_size, name: str) -> int:
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
            or batch_size < 1:
        raise ValueError(f"argument '{name}' expects a whole number >= 1, got {batch_size!r}")
    return int(batch_size)


def _nonfinite_weight(weights) -> NonFiniteError:
    """The error naming the first weight that an optimizer step made NaN or inf."""
    for w in weights:
        if not all_finite(w.value):
            what = "NaN" if np.isnan(w.value).any() else "inf"
            return NonFiniteError(f"weight '{w.name}' of layer '{w.layer.name}' became {what} "
                                  f"in the optimizer step (the learning rate is too high or the "
                                  f"gradients exploded); lower the learning rate or clip the "
                                  f"gradients (clipnorm)", w.layer)
    return NonFiniteError("a weight became NaN or inf in the optimizer step", None)
