//! fastai's `DataBlock(get_items=get_image_files, splitter=GrandparentSplitter(valid_name="val"),
//! get_y=parent_label)` for an Imagewoof-style folder: `ROOT/{train,val}/<class>/<image>`.
//!
//! Everything that would otherwise surface hours into a run (a typo in the path, a split
//! missing, an empty class folder, a class the model cannot learn because it only exists in
//! `val`) is refused here, before the first batch is decoded.

use std::path::{Path, PathBuf};

use super::SplitMix64;

/// The file name endings accepted as images, compared case-insensitively (Imagewoof ships
/// `.JPEG`). The decoder sniffs the real format from the bytes; this only skips stray files
/// such as `.DS_Store` or `labels.csv`.
const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "bmp", "gif"];

/// The split folder names, as in the official Imagewoof archive.
const TRAIN_DIR: &str = "train";
const VALID_DIR: &str = "val";

/// Why a data folder cannot be trained on, with the path to fix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data folder {0} does not exist")]
    MissingRoot(PathBuf),
    #[error("{root} has no `{split}` folder; expected {root}/{split}/<class>/<images>")]
    MissingSplit { root: PathBuf, split: &'static str },
    #[error("class folder {0} holds no images (jpg, jpeg, png, webp, bmp or gif)")]
    EmptyClass(PathBuf),
    #[error("class {class:?} is in {root}/val but not in {root}/train, so it cannot be learned")]
    ClassOnlyInValid { root: PathBuf, class: String },
    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A class: its folder name and the name people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// The folder name, e.g. the synset `n02111889`.
    pub folder: String,
    /// The breed for an Imagewoof synset (`Samoyed`), else the folder name.
    pub name: String,
}

/// One labelled image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub path: PathBuf,
    /// Index into [`Dataset::classes`].
    pub label: usize,
}

/// How much of the folder to take.
#[derive(Debug, Clone, Copy, Default)]
pub struct FolderOptions {
    /// At most this many images per class and split, the first ones in path order, so a
    /// quick run or a test always sees the same files.
    pub max_per_class: Option<usize>,
    /// At most this many per class in `val` (the first ones, as above): a training run that
    /// watches a fixed part of the validation split each epoch, leaving the folder as it is.
    pub valid_per_class: Option<usize>,
    /// Hold out this percentage of each class of `train` (at least one photo) as the
    /// validation photos instead of `val`, which then takes no part: recipes can be
    /// compared without looking at the split that measures the model. The same photos for
    /// every run with the same percentage (a fixed shuffle per class), whatever its seed.
    pub holdout_percent: Option<f64>,
}

/// The shuffle that picks the held-out photos: fixed, so that runs compared on a holdout are
/// scored on the same photos.
const HOLDOUT_SEED: u64 = 0x686F_6C64_6F75_74;

impl FolderOptions {
    /// At most `max_per_class` images per class in each split (all of them for `None`).
    pub fn at_most(max_per_class: Option<usize>) -> Self {
        Self { max_per_class, ..Self::default() }
    }
}

/// The listed data set: classes in sorted folder order (the class index order) and the
/// items of each split, sorted by class then path.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub classes: Vec<Class>,
    pub train: Vec<Item>,
    pub valid: Vec<Item>,
}

impl Dataset {
    /// Lists `root`, checking its layout.
    pub fn from_folder(root: &Path, options: FolderOptions) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::MissingRoot(root.to_path_buf()));
        }
        let train_dir = split_dir(root, TRAIN_DIR)?;
        let valid_dir = split_dir(root, VALID_DIR)?;
        let train_classes = subfolders(&train_dir)?;
        let valid_classes = subfolders(&valid_dir)?;
        if let Some(class) = valid_classes.iter().find(|c| !train_classes.contains(c)) {
            return Err(DataError::ClassOnlyInValid { root: root.to_path_buf(), class: class.clone() });
        }
        // Every val class is a train class, so the train folders are the sorted union.
        let classes: Vec<Class> = train_classes
            .iter()
            .map(|folder| Class {
                folder: folder.clone(),
                name: woofcam::labels::breed_name(folder).unwrap_or(folder).to_string(),
            })
            .collect();
        let train = list_split(&train_dir, &train_classes, &train_classes, options.max_per_class)?;
        if let Some(percent) = options.holdout_percent {
            let (train, valid) = hold_out(train, percent);
            return Ok(Self { classes, train, valid });
        }
        let valid_take = match (options.max_per_class, options.valid_per_class) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let valid = list_split(&valid_dir, &valid_classes, &train_classes, valid_take)?;
        Ok(Self { classes, train, valid })
    }
}

/// Splits `train` (sorted by class) into what remains and `percent` of each class (rounded,
/// at least one photo, never the class's last one), each in path order.
fn hold_out(train: Vec<Item>, percent: f64) -> (Vec<Item>, Vec<Item>) {
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for class in train.chunk_by(|a, b| a.label == b.label) {
        let n = class.len();
        let take = ((n as f64 * percent / 100.0).round() as usize).max(1).min(n - 1);
        let mut order: Vec<usize> = (0..n).collect();
        SplitMix64::for_item(HOLDOUT_SEED, 0, class[0].label as u64).shuffle(&mut order);
        let mut chosen = vec![false; n];
        order.into_iter().take(take).for_each(|i| chosen[i] = true);
        for (item, chosen) in class.iter().zip(chosen) {
            if chosen { &mut held } else { &mut kept }.push(item.clone());
        }
    }
    (kept, held)
}

fn split_dir(root: &Path, split: &'static str) -> Result<PathBuf, DataError> {
    let dir = root.join(split);
    if dir.is_dir() { Ok(dir) } else { Err(DataError::MissingSplit { root: root.to_path_buf(), split }) }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

/// Sorted entries of `dir` (folders when `want_dirs`, files otherwise), skipping hidden ones.
fn entries(dir: &Path, want_dirs: bool) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_none_or(|n| n.starts_with('.'));
        if !hidden && path.is_dir() == want_dirs {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Sorted class folder names directly under a split folder.
fn subfolders(dir: &Path) -> Result<Vec<String>, DataError> {
    Ok(entries(dir, true)?.iter().filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string)).collect())
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The items of one split, the first `take` of each class at most; `all_classes` gives the
/// label indices.
fn list_split(
    dir: &Path,
    classes: &[String],
    all_classes: &[String],
    take: Option<usize>,
) -> Result<Vec<Item>, DataError> {
    let mut items = Vec::new();
    for class in classes {
        let class_dir = dir.join(class);
        let label = all_classes.iter().position(|c| c == class).unwrap_or_default();
        let images: Vec<PathBuf> = entries(&class_dir, false)?.into_iter().filter(|p| is_image(p)).collect();
        if images.is_empty() {
            return Err(DataError::EmptyClass(class_dir));
        }
        items.extend(images.into_iter().take(take.unwrap_or(usize::MAX)).map(|path| Item { path, label }));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use woofcam_testkit::imagewoof;

    /// Creates `root/<rel>` (and its parents) as an empty file.
    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    fn tiny() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            "train/b_class/2.JPEG",
            "train/b_class/1.png",
            "train/b_class/notes.txt",
            "train/b_class/.hidden.jpg",
            "train/a_class/x.Jpg",
            "train/n02111889/s.webp",
            "val/a_class/v.jpeg",
            "val/n02111889/t.BMP",
        ] {
            touch(dir.path(), rel);
        }
        dir
    }

    #[test]
    fn lists_classes_labels_and_extensions() {
        let dir = tiny();
        let data = Dataset::from_folder(dir.path(), FolderOptions::default()).unwrap();
        let names: Vec<_> = data.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a_class", "b_class", "Samoyed"]);
        let train: Vec<_> =
            data.train.iter().map(|i| (i.path.strip_prefix(dir.path()).unwrap().to_path_buf(), i.label)).collect();
        assert_eq!(
            train,
            [
                (PathBuf::from("train/a_class/x.Jpg"), 0),
                (PathBuf::from("train/b_class/1.png"), 1),
                (PathBuf::from("train/b_class/2.JPEG"), 1),
                (PathBuf::from("train/n02111889/s.webp"), 2),
            ]
        );
        // A class absent from val keeps its train index for the others.
        let valid: Vec<_> = data.valid.iter().map(|i| i.label).collect();
        assert_eq!(valid, [0, 2]);
    }

    #[test]
    fn max_per_class_takes_the_first_paths() {
        let dir = tiny();
        let options = FolderOptions::at_most(Some(1));
        let data = Dataset::from_folder(dir.path(), options).unwrap();
        let files: Vec<_> = data.train.iter().map(|i| i.path.file_name().unwrap()).collect();
        assert_eq!(files, ["x.Jpg", "1.png", "s.webp"]);
    }

    #[test]
    fn valid_per_class_limits_only_the_validation_split() {
        let dir = tiny();
        touch(dir.path(), "val/a_class/w.jpeg");
        let names = |options| {
            let data = Dataset::from_folder(dir.path(), options).unwrap();
            let names = |items: &[Item]| -> Vec<String> {
                items.iter().map(|i| i.path.file_name().unwrap().to_string_lossy().into_owned()).collect()
            };
            (names(&data.train), names(&data.valid))
        };
        let (train, valid) = names(FolderOptions { valid_per_class: Some(1), ..FolderOptions::default() });
        assert_eq!(train, ["x.Jpg", "1.png", "2.JPEG", "s.webp"]);
        assert_eq!(valid, ["v.jpeg", "t.BMP"]);
        // With both, the validation split takes the smaller.
        let (train, valid) =
            names(FolderOptions { max_per_class: Some(1), valid_per_class: Some(2), ..FolderOptions::default() });
        assert_eq!(train, ["x.Jpg", "1.png", "s.webp"]);
        assert_eq!(valid, ["v.jpeg", "t.BMP"]);
        let (_, valid) =
            names(FolderOptions { max_per_class: Some(2), valid_per_class: Some(5), ..FolderOptions::default() });
        assert_eq!(valid, ["v.jpeg", "w.jpeg", "t.BMP"]);
    }

    #[test]
    fn a_holdout_takes_the_same_share_of_each_train_class_and_leaves_val_alone() {
        let dir = tiny();
        for i in 0..20 {
            touch(dir.path(), &format!("train/a_class/{i:02}.jpg"));
        }
        let options = |percent| FolderOptions { holdout_percent: Some(percent), ..FolderOptions::default() };
        let data = Dataset::from_folder(dir.path(), options(10.0)).unwrap();
        let held = |label| data.valid.iter().filter(|i| i.label == label).count();
        // a_class: 2 of 21 (10%); b_class: 2 photos round to none, but one is held out; the
        // Samoyed's only photo stays to train on.
        assert_eq!((held(0), held(1), held(2)), (2, 1, 0));
        assert_eq!(data.train.len() + data.valid.len(), 21 + 2 + 1);
        assert!(data.valid.iter().all(|v| !data.train.iter().any(|t| t.path == v.path)));
        assert!(data.valid.iter().all(|v| v.path.starts_with(dir.path().join("train"))));
        // The same photos every time: the shuffle does not depend on a run's seed.
        let again = Dataset::from_folder(dir.path(), options(10.0)).unwrap();
        assert_eq!(
            again.valid.iter().map(|i| &i.path).collect::<Vec<_>>(),
            data.valid.iter().map(|i| &i.path).collect::<Vec<_>>()
        );
        // Never a whole class: the run must still train on it.
        let most = Dataset::from_folder(dir.path(), options(100.0)).unwrap();
        let kept = |label| most.train.iter().filter(|i| i.label == label).count();
        assert_eq!((kept(0), kept(1), kept(2)), (1, 1, 1));
    }

    #[test]
    fn missing_root_is_named() {
        let err = Dataset::from_folder(Path::new("/no/such/woof"), FolderOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "data folder /no/such/woof does not exist");
    }

    #[test]
    fn missing_splits_are_named() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "val/a/x.jpg");
        let err = Dataset::from_folder(dir.path(), FolderOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::MissingSplit { split: "train", .. }), "{err}");
        assert!(err.to_string().contains("has no `train` folder"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "train/a/x.jpg");
        let err = Dataset::from_folder(dir.path(), FolderOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::MissingSplit { split: "val", .. }), "{err}");
    }

    #[test]
    fn class_without_images_is_refused() {
        let dir = tiny();
        touch(dir.path(), "train/c_class/readme.txt");
        let err = Dataset::from_folder(dir.path(), FolderOptions::default()).unwrap_err();
        match &err {
            DataError::EmptyClass(path) => assert!(path.ends_with("train/c_class")),
            other => panic!("{other}"),
        }
        assert!(err.to_string().ends_with("holds no images (jpg, jpeg, png, webp, bmp or gif)"));
    }

    #[test]
    fn class_only_in_valid_is_refused() {
        let dir = tiny();
        touch(dir.path(), "val/z_class/v.jpg");
        let err = Dataset::from_folder(dir.path(), FolderOptions::default()).unwrap_err();
        assert!(matches!(&err, DataError::ClassOnlyInValid { class, .. } if class == "z_class"));
    }

    #[test]
    fn imagewoof_has_ten_breeds_and_its_split() {
        let options = FolderOptions::at_most(Some(3));
        let data = Dataset::from_folder(&imagewoof(), options).unwrap();
        let synsets: Vec<_> = data.classes.iter().map(|c| c.folder.as_str()).collect();
        let expected: Vec<_> = woofcam::labels::IMAGEWOOF.iter().map(|b| b.synset).collect();
        assert_eq!(synsets, expected);
        assert_eq!(data.classes[4].name, "Border terrier");
        assert_eq!((data.train.len(), data.valid.len()), (30, 30));
        for item in data.train.iter().chain(&data.valid) {
            let parent = item.path.parent().unwrap().file_name().unwrap();
            assert_eq!(parent.to_str().unwrap(), data.classes[item.label].folder);
        }
        assert!(data.valid.iter().all(|i| i.path.to_str().unwrap().contains("/val/")));
    }
}
