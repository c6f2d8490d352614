//! `woofcam train` end to end on a small real subset of Imagewoof: the loss goes down, the
//! table and checkpoints are written, and an interrupted run resumed later ends exactly
//! where the uninterrupted one does; `--init` and the model card of a chain of runs.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod support;
use support::{cli, eval_json, fails, imagewoof, metadata, ok, samoyed, text};

/// A quick run: ResNet18 at 32 px on 4 photos per class (40 train, 40 valid).
fn quick<'a>(data: &'a str, out: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let args = ["train", "--data", data, "--out", out, "--arch", "resnet18", "--max-per-class", "4"];
    let more =
        ["--resize", "40", "--size", "32", "--batch-size", "8", "--epochs", epochs, "--lr", "2e-3", "--workers", "2"];
    args.into_iter().chain(more).collect()
}

/// A one-epoch [`quick`] run in `first`, then one in `second` from its model (`--init`), its
/// arguments changed by `tweak` first. Returns the second run's output.
fn chained_runs(first: &Path, second: &Path, tweak: impl FnOnce(&mut Vec<&str>)) -> String {
    let data = imagewoof();
    ok(&quick(data.to_str().unwrap(), first.to_str().unwrap(), "1"));
    let mut args = quick(data.to_str().unwrap(), second.to_str().unwrap(), "1");
    tweak(&mut args);
    let init = first.join("best.bpk");
    args.extend(["--init", init.to_str().unwrap()]);
    ok(&args)
}

/// The percentage in "**12.5%** (1 of 8) `after`" in `text`.
fn bold_percent_before(text: &str, after: &str) -> f64 {
    let end = text.find(after).unwrap_or_else(|| panic!("no \"{after}\" in\n{text}"));
    let before = &text[..end];
    let start = before.rfind("**").and_then(|close| before[..close].rfind("**").map(|open| (open, close)));
    let (open, close) = start.unwrap_or_else(|| panic!("no bold figure before \"{after}\""));
    before[open + 2..close].trim_end_matches('%').parse().expect("a percentage")
}

fn run_state(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

/// The epoch record of a run's `best.bpk`.
fn best_record(state: &Value) -> Value {
    state["history"][state["best"]["record"].as_u64().unwrap() as usize].clone()
}

/// `woofcam eval` of `weights` on the first `per_class` val photos of each class with a
/// [`quick`] run's validation transform (such a run validates on 4) and batches (8: the
/// convolution's algorithm depends on a batch's size, and another one rounds differently,
/// which may tip a near tie); returns `eval.json`.
fn eval_as_validated(weights: &Path, data: &str, per_class: &str, out: &Path) -> Value {
    eval_json(weights, Path::new(data), out, &["--limit-per-class", per_class, "--resize", "40", "--batch", "8"])
}

/// How far `eval` may be from the trainer's validation of the same photos and model.
struct Reproduced {
    /// Relative difference in valid_loss.
    loss: f64,
    /// Photos that may be right on one side and wrong on the other: 0 where both compute
    /// the same way; a photo whose top two logits lie closer than two backends' rounding
    /// may go either way.
    photos: u64,
}

/// An `eval.json` gives an epoch record's accuracy and its valid_loss within `allowed`: the
/// same photos, model and pre-processing as the trainer's validation.
fn assert_reproduces(report: &Value, record: &Value, allowed: Reproduced) {
    let images = report["images"].as_u64().unwrap();
    let theirs = (record["accuracy"].as_f64().unwrap() * images as f64).round() as u64;
    let ours = report["correct"].as_u64().unwrap();
    assert!(theirs.abs_diff(ours) <= allowed.photos, "{report} vs {record}");
    let (theirs, ours) = (record["valid_loss"].as_f64().unwrap(), report["loss"].as_f64().unwrap());
    assert!((theirs - ours).abs() < allowed.loss * theirs, "valid_loss {theirs} in training, {ours} from eval");
}

#[test]
fn training_learns_writes_the_table_and_keeps_the_best_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let data = imagewoof();
    let stdout = ok(&quick(data.to_str().unwrap(), out.to_str().unwrap(), "6"));
    assert!(stdout.contains("epoch   train_loss  valid_loss  error_rate  accuracy  time"), "{stdout}");

    let state = run_state(&out);
    let history = state["history"].as_array().unwrap();
    assert_eq!(history.len(), 6);
    let loss = |i: usize| history[i]["train_loss"].as_f64().unwrap();
    // 40 photos of 10 classes: from about ln(10) = 2.3, the network starts to fit them.
    assert!(loss(5) < loss(0) - 0.2, "train loss did not go down: {history:?}");
    // The table shows every epoch, numbered from 0 as fastai does.
    for (i, record) in history.iter().enumerate() {
        assert_eq!(record["epoch"].as_u64(), Some(i as u64));
        let row = stdout.lines().find(|l| l.starts_with(&format!("{i}       "))).expect("a row per epoch");
        assert!(row.contains(&format!("{:.6}", record["valid_loss"].as_f64().unwrap())), "{row}");
    }

    // best.bpk is the epoch with the lowest error rate, and says so in its metadata.
    let best = &state["best"];
    let best_error = best["error_rate"].as_f64().unwrap();
    let lowest = history.iter().map(|r| r["error_rate"].as_f64().unwrap()).fold(f64::MAX, f64::min);
    assert_eq!(best_error, lowest);
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    assert_eq!(meta["architecture"], "resnet18");
    assert_eq!(meta["input_size"], serde_json::json!([32, 32]));
    assert_eq!(meta["classes"][4]["name"], "Border terrier");
    assert_eq!(meta["training"]["best"]["error_rate"].as_f64(), Some(best_error));
    // Only the last epoch's checkpoint is kept.
    let checkpoints: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("epoch-"))
        .collect();
    assert_eq!(checkpoints, ["epoch-006"]);

    // The best model explains a photo with the native tool.
    let photo = samoyed();
    let explained = dir.path().join("explained");
    ok(&[
        "explain",
        photo.to_str().unwrap(),
        "--weights",
        out.join("best.bpk").to_str().unwrap(),
        "--out",
        explained.to_str().unwrap(),
    ]);
}

/// `--keep last`: `best.bpk` is the last epoch's model whatever the validation photos say,
/// and its metadata and the run say so.
#[test]
fn keep_last_keeps_the_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let data = imagewoof();
    let mut args = quick(data.to_str().unwrap(), out.to_str().unwrap(), "3");
    args.extend(["--keep", "last"]);
    let stdout = ok(&args);
    assert!(stdout.contains("last error_rate"), "{stdout}");
    let state = run_state(&out);
    assert_eq!(state["config"]["keep"], "last");
    assert_eq!(state["best"]["record"].as_u64(), Some(2));
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    assert_eq!(meta["training"]["best"]["epoch"].as_u64(), Some(2));
    let read = |path: PathBuf| std::fs::read(path).unwrap();
    assert!(
        read(out.join("best.bpk")) == read(out.join("epoch-003/model.bpk")),
        "best.bpk is not the last epoch's model"
    );
}

/// `--valid-per-class N` scores each epoch on the first N val photos of each class: `eval`
/// of the epoch's model on exactly those photos gives the table's accuracy and loss, and the
/// recipe records the option (so `--resume` and the model card's command keep it).
#[test]
fn valid_per_class_scores_each_epoch_on_the_first_photos_of_val() {
    let dir = tempfile::tempdir().unwrap();
    let (out, evaluated) = (dir.path().join("run"), dir.path().join("eval"));
    let data = imagewoof();
    let mut args = quick(data.to_str().unwrap(), out.to_str().unwrap(), "1");
    args.extend(["--valid-per-class", "2"]);
    ok(&args);
    let state = run_state(&out);
    assert_eq!(state["config"]["valid_per_class"], 2);
    assert_eq!(state["config"]["max_per_class"], 4, "the train split keeps --max-per-class");
    let report = eval_as_validated(&out.join("best.bpk"), data.to_str().unwrap(), "2", &evaluated);
    assert_eq!(report["images"], 20);
    assert_reproduces(&report, &best_record(&state), Reproduced { loss: 1e-5, photos: 0 });
}

/// The model a run exports, evaluated on the same photos, gives the epoch table's numbers:
/// the export, the reload and `eval`'s pre-processing reproduce what the trainer validated.
#[test]
fn the_exported_model_reproduces_the_trainers_validation() {
    let dir = tempfile::tempdir().unwrap();
    let (out, exported, evaluated) = (dir.path().join("run"), dir.path().join("model.bpk"), dir.path().join("eval"));
    let data = imagewoof();
    let data = data.to_str().unwrap();
    ok(&quick(data, out.to_str().unwrap(), "2"));
    let best = out.join("best.bpk");
    #[rustfmt::skip]
    ok(&["export", "--weights", best.to_str().unwrap(), "--out", exported.to_str().unwrap(), "--data", data,
        "--precision", "f32", "--check-images", "10"]);
    let report = eval_as_validated(&exported, data, "4", &evaluated);
    assert_eq!(report["images"], 40);
    assert_reproduces(&report, &best_record(&run_state(&out)), Reproduced { loss: 1e-5, photos: 0 });
}

/// The GPU backend (a build with `--features wgpu` or `wgpu-untuned`; Mesa's lavapipe runs it on the CPU): a
/// short run trains, and its model, evaluated on the CPU backend, gives the epoch table's
/// accuracy and nearly its valid_loss (two backends' rounding).
#[cfg(feature = "wgpu-untuned")]
#[test]
fn a_run_on_the_wgpu_backend_trains_and_its_model_evaluates_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let (out, evaluated) = (dir.path().join("run"), dir.path().join("eval"));
    let data = imagewoof();
    let data = data.to_str().unwrap();
    let mut args = quick(data, out.to_str().unwrap(), "2");
    args.extend(["--device", "wgpu"]);
    ok(&args);
    let state = run_state(&out);
    let history = state["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|r| r["train_loss"].as_f64().unwrap().is_finite()), "{history:?}");

    // Trained and validated on wgpu, evaluated on the CPU: two backends' rounding.
    let report = eval_as_validated(&out.join("best.bpk"), data, "4", &evaluated);
    assert_reproduces(&report, &best_record(&state), Reproduced { loss: 1e-3, photos: 1 });
}

#[test]
fn a_resumed_run_ends_where_the_uninterrupted_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = imagewoof();
    let data = data.to_str().unwrap();
    let straight = dir.path().join("straight");
    ok(&quick(data, straight.to_str().unwrap(), "3"));

    let interrupted = dir.path().join("interrupted");
    let mut first = quick(data, interrupted.to_str().unwrap(), "3");
    first.extend(["--stop-after", "1"]);
    let stdout = ok(&first);
    assert!(stdout.contains("continue with: woofcam train --resume"), "{stdout}");
    assert_eq!(run_state(&interrupted)["completed_epochs"], 1);
    // Without --resume, an existing run is not overwritten.
    let stderr = fails(&quick(data, interrupted.to_str().unwrap(), "3"));
    assert!(stderr.contains("--resume"), "{stderr}");
    let stdout = ok(&["train", "--resume", "--out", interrupted.to_str().unwrap(), "--workers", "1"]);
    assert!(stdout.contains("resuming"), "{stdout}");

    let numbers = |out: &Path| -> Vec<[f64; 3]> {
        run_state(out)["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| ["train_loss", "valid_loss", "error_rate"].map(|k| r[k].as_f64().unwrap()))
            .collect()
    };
    let (a, b) = (numbers(&straight), numbers(&interrupted));
    assert_eq!(a.len(), 3);
    // Same data order, augmentation, dropout, optimiser state and schedule: the same run.
    for (epoch, (x, y)) in a.iter().zip(&b).enumerate() {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= 1e-6 * u.abs().max(1.0), "epoch {epoch}: {x:?} vs {y:?}");
        }
    }
}

/// A run carried to another machine without its optimiser state (`optim.bpk`, three times
/// the model's size): the checkpoint's model alone, exported to f16 in its place, lets
/// `--resume --fresh-optimizer` finish the schedule, where a plain `--resume` refuses with that
/// hint, and `--data` says where the photos are there; the run, its model's record and the
/// model card say where Ranger's state started anew, and each epoch which backend trained it.
#[test]
fn a_run_goes_on_from_its_model_alone_with_a_fresh_optimiser() {
    let dir = tempfile::tempdir().unwrap();
    let data = imagewoof();
    let data = data.to_str().unwrap();
    let run = dir.path().join("run");
    let run_arg = run.to_str().unwrap();
    let mut first = quick(data, run_arg, "3");
    // `best.bpk` the last epoch's, trained after the restart: under `--keep best` which epoch
    // scores best on 4 photos per class depends on the CPU's float rounding, and a model kept
    // from before the restart rightly records none.
    first.extend(["--stop-after", "1", "--keep", "last"]);
    ok(&first);
    let checkpoint = run.join("epoch-001");
    std::fs::remove_file(checkpoint.join("optim.bpk")).unwrap();
    let f16 = dir.path().join("f16/model.bpk");
    #[rustfmt::skip]
    ok(&["export", "--weights", checkpoint.join("model.bpk").to_str().unwrap(), "--out", f16.to_str().unwrap(),
        "--data", data, "--precision", "f16", "--check-images", "10"]);
    for name in ["model.bpk", "model.json"] {
        std::fs::copy(f16.with_file_name(name), checkpoint.join(name)).unwrap();
    }

    let stderr = fails(&["train", "--resume", "--out", run_arg, "--workers", "1"]);
    assert!(stderr.contains("optim.bpk is missing") && stderr.contains("--resume --fresh-optimizer"), "{stderr}");
    // On the other machine the photos are somewhere else.
    let moved = dir.path().join("moved-data");
    std::os::unix::fs::symlink(data, &moved).unwrap();
    let moved = moved.to_str().unwrap();
    let stderr = fails(&["train", "--resume", "--fresh-optimizer", "--out", run_arg, "--teacher", moved]);
    assert!(stderr.contains("this run trains without a teacher"), "{stderr}");
    #[rustfmt::skip]
    let stdout = ok(&["train", "--resume", "--fresh-optimizer", "--out", run_arg, "--workers", "1",
        "--data", moved, "--device", "cpu"]);
    assert!(stdout.contains("after epoch 1 of 3, from the model alone: Ranger's state starts anew"), "{stdout}");
    assert!(stdout.contains(&format!("data now in {moved} (was {data})")), "{stdout}");
    let state = run_state(&run);
    assert_eq!(state["config"]["data"], moved);
    assert!(state["history"].as_array().unwrap().iter().all(|r| r["backend"] == "cpu"), "{state}");
    assert_eq!(state["completed_epochs"], 3);
    assert_eq!(state["optimizer_restarts"], serde_json::json!([1]));
    assert!(state["history"].as_array().unwrap().iter().all(|r| r["train_loss"].as_f64().unwrap().is_finite()));
    let best: Value = serde_json::from_str(&std::fs::read_to_string(run.join("best.json")).unwrap()).unwrap();
    assert_eq!(best["training"]["optimizer_restarts"], serde_json::json!([1]));

    let eval = dir.path().join("eval");
    let weights = run.join("best.bpk");
    eval_as_validated(&weights, data, "1", &eval);
    ok(&["card", "--weights", weights.to_str().unwrap(), "--eval", eval.to_str().unwrap()]);
    let card = std::fs::read_to_string(run.join("MODEL_CARD.md")).unwrap();
    assert!(card.contains("It went on from its model alone after epoch 1 (`--resume --fresh-optimizer`)"), "{card}");

    // Only a run being resumed has an optimiser state to leave behind.
    let stderr =
        fails(&["train", "--data", data, "--out", dir.path().join("new").to_str().unwrap(), "--fresh-optimizer"]);
    assert!(stderr.contains("--resume"), "{stderr}");
}

/// `--holdout`, `--mixup` and `--label-smoothing`: the run validates on photos of the train
/// split that it does not train on, trains with both regularisers, and its recipe, the
/// model's record and the card say so.
#[test]
fn a_run_with_a_holdout_mixup_and_label_smoothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let data = imagewoof();
    let data = data.to_str().unwrap();
    let mut args = quick(data, out.to_str().unwrap(), "2");
    args.extend(["--holdout", "25", "--mixup", "0.4", "--label-smoothing", "0.1", "--keep", "last"]);
    let stdout = ok(&args);
    // 4 photos per class: one of each held out.
    assert!(
        stdout.contains("30 photos to train on, 10 to validate on (25% of each class of train, held out)"),
        "{stdout}"
    );
    let state = run_state(&out);
    assert_eq!(state["config"]["holdout_percent"], 25.0);
    assert_eq!(state["config"]["mixup"], 0.4);
    assert_eq!(state["config"]["label_smoothing"], 0.1);
    let history = state["history"].as_array().unwrap();
    assert!(history.iter().all(|r| r["train_loss"].as_f64().unwrap().is_finite()), "{history:?}");
    // Accuracy on 10 photos moves in tenths.
    assert!(history.iter().all(|r| (r["accuracy"].as_f64().unwrap() * 10.0).fract().abs() < 1e-9), "{history:?}");

    let eval = dir.path().join("eval");
    let weights = out.join("best.bpk");
    eval_as_validated(&weights, data, "1", &eval);
    ok(&["card", "--weights", weights.to_str().unwrap(), "--eval", eval.to_str().unwrap()]);
    let card = std::fs::read_to_string(out.join("MODEL_CARD.md")).unwrap();
    assert!(
        card.contains(" --holdout 25 ") && card.contains(" --label-smoothing 0.1 --mixup 0.4 --keep last "),
        "{card}"
    );
    assert!(card.contains("held out from training) chose nothing"), "{card}");
    assert!(card.contains("- Mixup on every training batch (a share drawn from Beta(0.4, 0.4), labels mixed likewise); label smoothing 0.1 on the cross-entropy term."), "{card}");

    let refused_run = dir.path().join("refused");
    let refused = |extra: &[&str], why: &str| {
        let mut args = quick(data, refused_run.to_str().unwrap(), "1");
        args.extend(extra);
        let stderr = fails(&args);
        assert!(stderr.contains(why), "{extra:?}: {stderr}");
    };
    refused(&["--holdout", "0"], "--holdout is a percentage");
    refused(&["--mixup", "0"], "--mixup takes Beta's alpha");
    refused(&["--label-smoothing", "1"], "--label-smoothing must be in [0, 1)");
    refused(&["--holdout", "5", "--valid-per-class", "2"], "cannot be used with");
}

#[test]
fn bad_runs_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Nothing to resume.
    let stderr = fails(&["train", "--resume", "--out", out.to_str().unwrap()]);
    assert!(stderr.contains("run.json"), "{stderr}");
    // A folder without `val`.
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("train/a")).unwrap();
    let stderr = fails(&["train", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(stderr.contains("no `val` folder"), "{stderr}");
    // Fewer photos than one batch.
    let imagewoof = imagewoof();
    let stderr = fails(&[
        "train",
        "--data",
        imagewoof.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-per-class",
        "1",
        "--batch-size",
        "64",
    ]);
    assert!(stderr.contains("fewer than one batch"), "{stderr}");
}

/// A photo that does not decode is skipped: named once on stderr, counted in the epoch's
/// record and in the summary, and the run goes on.
#[test]
fn an_unreadable_photo_is_named_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two train photos and one val photo of each breed, plus a text file named .jpg.
    for (split, count) in [("train", 2), ("val", 1)] {
        for class in std::fs::read_dir(imagewoof().join(split)).unwrap() {
            let class = class.unwrap().path();
            let to = data.join(split).join(class.file_name().unwrap());
            std::fs::create_dir_all(&to).unwrap();
            let mut photos: Vec<_> = std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()).collect();
            photos.sort();
            for photo in &photos[..count] {
                std::fs::copy(photo, to.join(photo.file_name().unwrap())).unwrap();
            }
        }
    }
    let class = std::fs::read_dir(data.join("train")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(class.join("broken.jpg"), "not a photo").unwrap();

    let out = dir.path().join("run");
    let mut args = quick(data.to_str().unwrap(), out.to_str().unwrap(), "2");
    // 21 train files in batches of 7: none falls in a dropped last batch.
    let batch_size = args.iter().position(|&a| a == "--batch-size").unwrap() + 1;
    args[batch_size] = "7";
    let output = cli(&args);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stderr.matches("broken.jpg").count(), 1, "named once over two epochs: {stderr}");
    assert!(stdout.contains("1 unreadable photos were skipped"), "{stdout}");
    let history = run_state(&out)["history"].as_array().unwrap().clone();
    assert!(history.iter().all(|epoch| epoch["skipped"] == 1), "{history:?}");
}

/// `--pretrained` starts the body from a torchvision checkpoint (a real PyTorch `.pth`, see
/// `tests/reference/torch_roundtrip.py`), and a frozen epoch trains BatchNorm and the head
/// while leaving every body convolution exactly as loaded.
#[test]
fn pretrained_body_stays_fixed_while_frozen() {
    use burn::tensor::Device;
    use woofcam::model::{ResNet, ResNetConfig};
    use woofcam::weights::TorchLayout;

    let pth = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/torch/torchvision_resnet34.pth");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let data = imagewoof();
    let mut args = quick(data.to_str().unwrap(), out.to_str().unwrap(), "0");
    let arch = args.iter().position(|a| *a == "resnet18").unwrap();
    args[arch] = "resnet34";
    args.extend(["--pretrained", pth.to_str().unwrap(), "--frozen-epochs", "1"]);
    let stdout = ok(&args);
    assert!(stdout.contains("body initialised from"), "{stdout}");
    assert!(stdout.contains("frozen phase: 1 epochs"), "{stdout}");

    let device = Device::flex();
    let (trained, _) = woofcam_trainer::model_file::load(&out.join("best.bpk"), &device).unwrap();
    let loaded = woofcam_trainer::pytorch::load_torch_pth(
        ResNetConfig::fastai_resnet34(10).init(&device),
        &pth,
        TorchLayout::Torchvision,
        true,
    )
    .unwrap();
    assert_eq!(conv_weights(&trained), conv_weights(&loaded), "a frozen convolution changed");
    // BatchNorm did train: its affine weights moved away from the checkpoint's.
    let gamma = |m: &ResNet| m.body.layer4[2].bn2.gamma.val().into_data().try_to_vec::<f32>().unwrap();
    assert_ne!(gamma(&trained), gamma(&loaded));
}

/// Every convolution's weights of the body, in order.
fn conv_weights(model: &woofcam::model::ResNet) -> Vec<Vec<f32>> {
    let values = |t: burn::tensor::Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    let body = &model.body;
    let mut all = vec![values(body.conv1.weight.val())];
    for block in [&body.layer1, &body.layer2, &body.layer3, &body.layer4].into_iter().flatten() {
        all.push(values(block.conv1.weight.val()));
        all.push(values(block.conv2.weight.val()));
    }
    all
}

/// `--init` starts a new run from an earlier run's model, every weight of it: with a learning
/// rate too small to move them, the new run's convolutions are the old run's trained ones (not
/// the seed's initial ones, which the first run's epoch moved away from). A model of
/// another architecture is refused with a message that says why. The new model's training
/// record keeps the first run's, whole.
#[test]
fn init_continues_from_an_earlier_runs_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = imagewoof();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    let stdout = chained_runs(&first, &second, |args| {
        let lr = args.iter().position(|a| *a == "--lr").unwrap() + 1;
        args[lr] = "1e-30";
    });
    let best = first.join("best.bpk");
    assert!(stdout.contains("weights initialised from"), "{stdout}");
    assert_eq!(run_state(&second)["config"]["init"].as_str(), best.to_str());

    let device = burn::tensor::Device::flex();
    let load = |path: &Path| woofcam_trainer::model_file::load(path, &device).unwrap().0;
    let (before, after) = (conv_weights(&load(&best)), conv_weights(&load(&second.join("best.bpk"))));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().flatten().zip(after.iter().flatten()) {
        assert!((b - a).abs() <= 1e-6 * b.abs().max(1e-3), "a convolution weight moved: {b} -> {a}");
    }
    let training = |path: &Path| -> Value {
        serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["training"].clone()
    };
    let (first_training, second_training) = (training(&first.join("best.json")), training(&second.join("best.json")));
    assert_eq!(second_training["recipe"]["init"].as_str(), best.to_str());
    assert!(first_training["recipe"].is_object() && first_training.get("started_from").is_none());
    assert_eq!(second_training["started_from"], first_training);

    let third = dir.path().join("third");
    let mut args = quick(data.to_str().unwrap(), third.to_str().unwrap(), "1");
    let arch = args.iter().position(|a| *a == "resnet18").unwrap();
    args[arch] = "resnet34";
    args.extend(["--init", best.to_str().unwrap()]);
    let stderr = fails(&args);
    assert!(stderr.contains("is a resnet18") && stderr.contains("trains a resnet34"), "{stderr}");
}

fn teacher_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models/mobilenet_v1_0.75_224")
}

/// `--teacher`: the MobileNet's soft targets join the loss, and the recipe records them.
#[test]
fn distillation_from_the_mobilenet_teacher() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let data = imagewoof();
    let teacher = teacher_dir();
    let mut args = quick(data.to_str().unwrap(), out.to_str().unwrap(), "2");
    args.extend(["--teacher", teacher.to_str().unwrap(), "--distill-alpha", "0.5", "--distill-temperature", "3"]);
    ok(&args);
    let distill = &run_state(&out)["config"]["distill"];
    assert_eq!(distill["alpha"].as_f64(), Some(0.5));
    assert_eq!(distill["temperature"].as_f64(), Some(3.0));
    assert_eq!(run_state(&out)["history"].as_array().unwrap().len(), 2);

    // A folder with other classes cannot be taught by an Imagewoof teacher.
    let other = dir.path().join("other");
    for split in ["train", "val"] {
        for class in ["cats", "dogs"] {
            let folder = other.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            let photo = samoyed();
            for i in 0..4 {
                std::fs::copy(&photo, folder.join(format!("{i}.jpg"))).unwrap();
            }
        }
    }
    let stderr = fails(
        &quick(other.to_str().unwrap(), dir.path().join("r2").to_str().unwrap(), "1")
            .into_iter()
            .chain(["--teacher", teacher.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert!(stderr.contains("ten Imagewoof classes"), "{stderr}");
}

/// `woofcam card` for a model made by two runs (the second from the first's model): the card
/// gives eval.json's accuracy and per-class rows, each run's command (the second's with
/// `--init`), epoch table and machine, and the confusion matrix beside it. A model without a
/// training record is refused with a reason. (One epoch a run: a model's record covers the
/// epochs up to the one it is, and which epoch is best is up to the data.)
#[test]
fn card_names_every_run_and_the_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let data = imagewoof();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    chained_runs(&first, &second, |args| args.extend(["--seed", "7", "--keep", "last", "--valid-per-class", "2"]));
    let init = first.join("best.bpk");

    let (weights, eval) = (second.join("best.bpk"), dir.path().join("eval"));
    let (weights_arg, eval_arg) = (weights.to_str().unwrap(), eval.to_str().unwrap());
    eval_json(&weights, &data, &eval, &["--limit-per-class", "2"]);
    let stdout = ok(&["card", "--weights", weights_arg, "--eval", eval_arg]);
    let card_path = second.join("MODEL_CARD.md");
    assert!(stdout.contains(card_path.to_str().unwrap()), "{stdout}");
    let card = std::fs::read_to_string(&card_path).unwrap();
    assert!(second.join("confusion_matrix.png").is_file());

    let report: Value = serde_json::from_str(&std::fs::read_to_string(eval.join("eval.json")).unwrap()).unwrap();
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!(
        card.contains(&format!("**{:.1}%** top-1: {} of 20 photos", 100.0 * accuracy, report["correct"])),
        "{card}"
    );
    for class in report["per_class"].as_array().unwrap() {
        let row = format!(
            "| {} | {} | {:.1}% | 2 |",
            class["name"].as_str().unwrap(),
            class["id"].as_str().unwrap(),
            100.0 * class["accuracy"].as_f64().unwrap()
        );
        assert!(card.contains(&row), "no row {row} in\n{card}");
    }
    assert!(card.contains("2 runs, 2 epochs"), "{card}");
    assert!(card.contains("the viewer squishes the whole photo to that size instead"), "{card}");
    assert!(card.contains("(how accurate it is on photos fed that way was not measured for this card)"), "{card}");
    let commands: Vec<&str> = card.lines().filter(|l| l.starts_with("woofcam train ")).collect();
    assert_eq!(commands.len(), 2, "{card}");
    assert!(commands[0].contains("--seed 42") && !commands[0].contains("--init"), "{}", commands[0]);
    assert!(
        commands[1].contains(&format!("--init {}", init.display()))
            && commands[1].contains("--seed 7")
            && commands[1].contains("--keep last")
            && commands[1].contains("--valid-per-class 2"),
        "{}",
        commands[1]
    );
    // Both runs' tables, a row each.
    assert_eq!(card.lines().filter(|l| l.starts_with("| unfrozen | 0 | ")).count(), 2, "{card}");
    assert_eq!(card.matches("threads, linux").count(), if cfg!(target_os = "linux") { 2 } else { 0 }, "{card}");
    assert!(!card.contains("not the 32x32 it last trained at"), "{card}");
    // The first run chose its best epoch on the first 4 val photos of each class, of which
    // eval measured the first 2; the second kept its last epoch.
    assert_eq!(card.matches("20 of its 40 photos are among the 20 measured above").count(), 1, "{card}");
    let second_val =
        format!("its validation photos (the first 2 of each class in `{}`) chose nothing", data.join("val").display());
    assert_eq!(card.matches(&second_val).count(), 1, "{card}");

    // `export --size`: the metadata's input size, which `eval --size` tries first (the same
    // numbers), and which the card explains when it is not the training size.
    let (at_48, exported) = (dir.path().join("at-48"), dir.path().join("exported/model.bpk"));
    let tried = eval_json(&weights, &data, &at_48, &["--limit-per-class", "2", "--size", "48"]);
    ok(&[
        "export",
        "--weights",
        weights_arg,
        "--out",
        exported.to_str().unwrap(),
        "--precision",
        "f32",
        "--size",
        "48",
    ]);
    let meta = metadata(&exported);
    assert_eq!(meta.input_size, [48, 48]);
    assert_eq!(meta.training.as_ref().unwrap()["export"]["input_size"], serde_json::json!([48, 48]));
    let exported_eval = dir.path().join("exported-eval");
    let evaluate = |out: &Path, options: &[&str]| eval_json(&exported, &data, out, options);
    let measured = evaluate(&exported_eval, &["--limit-per-class", "2"]);
    for key in ["input_size", "resize", "correct", "loss", "per_class"] {
        assert_eq!(tried[key], measured[key], "{key}");
    }
    assert_eq!(measured["input_size"], serde_json::json!([48, 48]));
    // A second evaluation, the viewer's way (`--fit squish`), is quoted beside the first; one of
    // other photos is refused.
    let (squished, fewer) = (dir.path().join("squished"), dir.path().join("fewer"));
    let viewer = evaluate(&squished, &["--limit-per-class", "2", "--fit", "squish"]);
    evaluate(&fewer, &["--limit-per-class", "1"]);
    let viewer_percent = 100.0 * viewer["accuracy"].as_f64().unwrap();
    // A cat (`--outside`): the card gives the top three that `woofcam explain` prints for it;
    // `--notes` adds a section.
    let cat = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/photos/chelsea.png");
    let notes = dir.path().join("notes.md");
    std::fs::write(&notes, "Epochs 0-3 ran on one build, the rest on another.\n").unwrap();
    let (exported_arg, cat_arg) = (exported.to_str().unwrap(), cat.to_str().unwrap());
    // `card` with the centre-square evaluation first and another one of the same model.
    let (first, squished_arg, fewer_arg) =
        (exported_eval.to_str().unwrap(), squished.to_str().unwrap(), fewer.to_str().unwrap());
    let card_with = |second| ["card", "--weights", exported_arg, "--eval", first, "--eval", second];
    let teacher = imagewoof().join("../../models/mobilenet_v1_0.75_224");
    #[rustfmt::skip]
    ok(&[&card_with(squished_arg)[..], &["--outside", cat_arg, "--notes", notes.to_str().unwrap(),
        "--teacher", teacher.to_str().unwrap()]].concat());
    let card = std::fs::read_to_string(exported.with_file_name("MODEL_CARD.md")).unwrap();
    // The first 2 val photos of each class are all from ImageNet's validation split (their
    // names sort first), which the teacher never saw.
    let honest = bold_percent_before(&card, "on the 20 photos from ImageNet's validation split");
    // Published: about 88% on such photos; a teacher read wrongly would be near chance (10%).
    assert!(honest >= 60.0 && !card.contains("from ImageNet's train split, which it trained on"), "{card}");
    assert!(card.contains("It runs at 48x48, not the 32x32 it last trained at"), "{card}");
    assert!(card.contains("a centre square of each photo resized to 48x48"), "{card}");
    let quoted = format!(
        "From each whole photo squished to 48x48, as the viewer feeds it: **{viewer_percent:.1}%** ({} of 20, `--fit squish`).",
        viewer["correct"]
    );
    assert!(card.contains(&quoted), "no {quoted} in\n{card}");
    assert!(
        card.contains(&format!(
            "That distorts photos far from square: fed that way, the same photos scored {viewer_percent:.1}%."
        )),
        "{card}"
    );
    let stderr = fails(&card_with(fewer_arg));
    assert!(stderr.contains("measured other photos than"), "{stderr}");
    let explained = ok(&[
        "explain",
        cat_arg,
        "--weights",
        exported_arg,
        "--method",
        "gradcam",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    // "  1. Beagle                  12.34%" -> ("Beagle", 12.34)
    let top: Vec<(String, f64)> = explained
        .lines()
        .filter_map(|l| l.trim().split_once(". "))
        .filter_map(|(_, rest)| {
            rest.rsplit_once(' ').map(|(name, p)| (name.trim().to_string(), p.trim_end_matches('%')))
        })
        .filter_map(|(name, p)| p.parse::<f64>().ok().map(|p| (name, p)))
        .take(3)
        .collect();
    assert_eq!(top.len(), 3, "{explained}");
    // "| `cat.png` | Beagle 12.3%, ... |" -> [("Beagle", 12.3), ...]
    let row = format!("| `{cat_arg}` | ");
    let quoted: Vec<(String, f64)> = card
        .lines()
        .find_map(|l| l.strip_prefix(&row))
        .unwrap_or_else(|| panic!("no row for the cat in\n{card}"))
        .trim_end_matches(" |")
        .split(", ")
        .filter_map(|entry| entry.trim_end_matches('%').rsplit_once(' '))
        .map(|(name, p)| (name.to_string(), p.parse::<f64>().expect("a percentage")))
        .collect();
    // The same three breeds in the same order. `explain` prints two decimals and the card one,
    // so the same probability may read 16.35% and 16.3%: each rounding is off by at most half
    // its last digit.
    let names = |list: &[(String, f64)]| list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&quoted), names(&top), "{card}");
    for ((name, card_p), (_, explain_p)) in quoted.iter().zip(&top) {
        assert!((card_p - explain_p).abs() <= 0.05 + 0.005 + 1e-9, "{name}: card {card_p}%, explain {explain_p}%");
    }
    assert!(card.trim_end().ends_with("## Notes\n\nEpochs 0-3 ran on one build, the rest on another."), "{card}");

    let untrained = dir.path().join("untrained.bpk");
    ok(&["init", "--out", untrained.to_str().unwrap(), "--size", "32"]);
    let stderr = fails(&["card", "--weights", untrained.to_str().unwrap(), "--eval", eval_arg]);
    assert!(stderr.contains("has no training record"), "{stderr}");
}
