"""The training settings panel edits project.training (TrainingConfig) in place."""
import pytest

from app.training.settings_panel import SettingsPanel, loss_names, metric_names, optimizer_arguments
from engine import callbacks, optimizers
from engine.project import Project, TrainingConfig


@pytest.fixture
def panel(qtbot):
    p = SettingsPanel()
    qtbot.addWidget(p)
    project = Project.new()
    p.set_project(project)
    return p, project.training


def test_form_shows_the_config(panel):
    p, cfg = panel
    assert p.isEnabled()
    assert p.optimizer_box.currentText() == cfg.optimizer == "adam"
    assert p.loss_box.currentText() == cfg.loss
    assert [n for n, b in p.metric_checks.items() if b.isChecked()] == cfg.metrics
    assert p.batch_box.value() == cfg.batch_size and p.epochs_box.value() == cfg.epochs
    assert p.split_box.value() == pytest.approx(cfg.validation_split)
    assert not p.seed_check.isChecked() and not p.es_group.isChecked()
    assert set(p.arg_boxes) == {"learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"}


def test_optimizer_arguments_come_from_the_class():
    assert optimizer_arguments("sgd") == {"learning_rate": 0.01, "momentum": 0.0,
                                          "nesterov": False}
    assert optimizer_arguments("adamw")["weight_decay"] == 0.004      # AdamW's own default
    assert "weight_decay" not in optimizer_arguments("adam")          # None: not offered
    assert "categorical_crossentropy" in loss_names() and "mse" not in loss_names()
    assert metric_names()[0] == "accuracy" and "mae" in metric_names()


def test_editing_writes_the_config_and_only_non_default_arguments(panel, qtbot):
    p, cfg = panel
    with qtbot.waitSignal(p.changed):
        p.optimizer_box.setCurrentText("sgd")
    assert cfg.optimizer == "sgd" and cfg.optimizer_args == {}
    assert set(p.arg_boxes) == {"learning_rate", "momentum", "nesterov"}
    p.arg_boxes["momentum"].setValue(0.9)
    p.arg_boxes["nesterov"].setChecked(True)
    assert cfg.optimizer_args == {"momentum": 0.9, "nesterov": True}
    opt = optimizers.get({"class_name": cfg.optimizer, "config": cfg.optimizer_args})
    assert opt.momentum == 0.9
    p.loss_box.setCurrentText("mean_squared_error")
    p.metric_checks["accuracy"].setChecked(False)
    p.metric_checks["mae"].setChecked(True)
    p.batch_box.setValue(64)
    p.epochs_box.setValue(12)
    p.split_box.setValue(0.25)
    p.seed_check.setChecked(True)
    p.seed_box.setValue(7)
    assert (cfg.loss, cfg.metrics, cfg.batch_size, cfg.epochs, cfg.validation_split,
            cfg.seed) == ("mean_squared_error", ["mae"], 64, 12, 0.25, 7)
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg        # still a valid config


def test_callbacks_groups(panel):
    p, cfg = panel
    p.es_group.setChecked(True)
    p.es["patience"].setValue(5)
    p.lr_group.setChecked(True)
    p.lr["factor"].setValue(0.2)
    assert cfg.early_stopping == {"monitor": "val_loss", "patience": 5, "min_delta": 0.0,
                                  "restore_best_weights": True}
    assert cfg.reduce_lr["factor"] == pytest.approx(0.2)
    es, lr = cfg.callbacks()
    assert isinstance(es, callbacks.EarlyStopping) and es.patience == 5
    assert isinstance(lr, callbacks.ReduceLROnPlateau)
    p.split_box.setValue(0.0)
    assert "validation split" in p.hint.text()
    p.es_group.setChecked(False)
    assert cfg.early_stopping is None


def test_stored_config_is_shown_again(qtbot):
    project = Project.new()
    t = project.training
    t.optimizer, t.optimizer_args, t.seed = "rmsprop", {"rho": 0.8}, 3
    t.reduce_lr = {"monitor": "loss", "factor": 0.5, "patience": 1, "min_lr": 0.0}
    p = SettingsPanel()
    qtbot.addWidget(p)
    p.set_project(project)
    assert p.optimizer_box.currentText() == "rmsprop"
    assert p.arg_boxes["rho"].value() == pytest.approx(0.8)
    assert p.seed_check.isChecked() and p.seed_box.value() == 3
    assert p.lr_group.isChecked() and p.lr["monitor"].currentText() == "loss"
    assert t.optimizer_args == {"rho": 0.8}                    # showing did not rewrite it
