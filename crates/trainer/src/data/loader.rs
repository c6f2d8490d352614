//! Batches for training and validation: decoding and augmentation on worker threads while
//! the network works on the previous batch.
//!
//! The order of items, and every random draw of every sample, follow from (seed, epoch)
//! alone, so two runs with the same seed see the same batches whatever the number of
//! workers and however the threads interleave: workers may finish out of order, and the
//! loader puts their batches back in order. A file that cannot be read or decoded is left
//! out of its batch and reported in [`Batch::skipped`]; one bad JPEG in 9,000 must not end a
//! run hours in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use image::RgbImage;
use woofcam::image::{DecodeLimits, Normalization, decode, to_chw};

use super::{Item, Split, SplitMix64, Transform};

/// How batches are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Threads decoding and transforming (at least 1).
    pub workers: usize,
    /// Finished batches that may wait for the consumer; bounds memory.
    pub prefetch: usize,
    pub seed: u64,
    /// Leave out the last batch when it is smaller than `batch_size`, as fastai does on
    /// train (`drop_last=True`): a batch of one would break BatchNorm's batch statistics, and
    /// a small one gives a noisy step at full learning rate.
    pub drop_last: bool,
    /// Also render every sample's view at this size, for a distillation teacher that takes
    /// another input size than the network trained (see [`Transform::images`]).
    pub teacher_size: Option<u32>,
}

/// A file left out of a batch, and why (as `eval.json` lists it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// `len` samples as one `[len, 3, size, size]` CHW block, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    /// The same samples' views at [`LoaderConfig::teacher_size`], `[len, 3, t, t]`; empty
    /// without one.
    pub teacher_images: Vec<f32>,
    pub labels: Vec<usize>,
    pub len: usize,
    /// Items of this batch that could not be used; `len` counts only the others.
    pub skipped: Vec<Skipped>,
}

/// The items of one split and how to turn them into batches.
#[derive(Debug, Clone)]
pub struct Loader {
    items: Arc<Vec<Item>>,
    split: Split,
    transform: Arc<Transform>,
    config: LoaderConfig,
}

impl Loader {
    pub fn new(items: Vec<Item>, split: Split, transform: Transform, config: LoaderConfig) -> Self {
        let config = LoaderConfig {
            batch_size: config.batch_size.max(1),
            workers: config.workers.max(1),
            prefetch: config.prefetch.max(1),
            ..config
        };
        Self { items: Arc::new(items), split, transform: Arc::new(transform), config }
    }

    /// How the batches' pixels are normalised.
    pub fn normalization(&self) -> Normalization {
        self.transform.normalization
    }

    /// Batches in every epoch (the learning-rate schedule counts them before any is made).
    pub fn batches_per_epoch(&self) -> usize {
        let (n, size) = (self.items.len(), self.config.batch_size);
        if self.config.drop_last { n / size } else { n.div_ceil(size) }
    }

    /// The item order of an epoch: shuffled on train (fastai's `shuffle=True`), as listed
    /// on valid.
    fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        if self.split == Split::Train {
            // u64::MAX as the "item" keeps this stream apart from every sample's.
            SplitMix64::for_item(self.config.seed, epoch, u64::MAX).shuffle(&mut order);
        }
        order
    }

    /// Starts the workers for one epoch; the batches come out of the returned iterator in
    /// order. Dropping it early stops the workers.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        let order = self.order(epoch);
        // `batches_per_epoch` decides whether the short last batch is dropped.
        let jobs: Arc<Vec<Vec<usize>>> = Arc::new(
            order.chunks(self.config.batch_size).take(self.batches_per_epoch()).map(<[usize]>::to_vec).collect(),
        );
        let next_job = Arc::new(AtomicUsize::new(0));
        let (sender, receiver) = sync_channel(self.config.prefetch);
        let workers = (0..self.config.workers.min(jobs.len()))
            .map(|_| {
                let worker = Worker {
                    items: Arc::clone(&self.items),
                    transform: Arc::clone(&self.transform),
                    split: self.split,
                    seed: self.config.seed,
                    teacher_size: self.config.teacher_size,
                    epoch,
                    jobs: Arc::clone(&jobs),
                    next_job: Arc::clone(&next_job),
                    sender: sender.clone(),
                };
                std::thread::spawn(move || worker.run())
            })
            .collect();
        Epoch { receiver: Some(receiver), waiting: BTreeMap::new(), next: 0, total: jobs.len(), workers }
    }
}

/// One worker thread's share of an epoch: it takes the next batch number, builds that batch
/// and sends it, until none is left or the consumer has gone.
struct Worker {
    items: Arc<Vec<Item>>,
    transform: Arc<Transform>,
    split: Split,
    seed: u64,
    teacher_size: Option<u32>,
    epoch: u64,
    jobs: Arc<Vec<Vec<usize>>>,
    next_job: Arc<AtomicUsize>,
    sender: SyncSender<(usize, Batch)>,
}

impl Worker {
    fn run(self) {
        loop {
            let job = self.next_job.fetch_add(1, Ordering::Relaxed);
            let Some(indices) = self.jobs.get(job) else { return };
            if self.sender.send((job, self.batch(indices))).is_err() {
                return;
            }
        }
    }

    fn batch(&self, indices: &[usize]) -> Batch {
        let size = self.transform.size as usize;
        let sizes: Vec<u32> = std::iter::once(self.transform.size).chain(self.teacher_size).collect();
        let mut batch = Batch {
            images: Vec::with_capacity(indices.len() * 3 * size * size),
            teacher_images: Vec::new(),
            labels: Vec::with_capacity(indices.len()),
            len: 0,
            skipped: Vec::new(),
        };
        for &index in indices {
            let item = &self.items[index];
            match load(item) {
                Ok(photo) => {
                    let mut rng = SplitMix64::for_item(self.seed, self.epoch, index as u64);
                    let views = self.transform.images(&photo, self.split, &mut rng, &sizes);
                    let norm = &self.transform.normalization;
                    batch.images.extend(to_chw(&views[0], norm));
                    if let Some(teacher_view) = views.get(1) {
                        batch.teacher_images.extend(to_chw(teacher_view, norm));
                    }
                    batch.labels.push(item.label);
                    batch.len += 1;
                }
                Err(reason) => batch.skipped.push(Skipped { path: item.path.clone(), reason }),
            }
        }
        batch
    }
}

/// Reads and decodes one file, with the decoder's own wording for what is wrong.
fn load(item: &Item) -> Result<RgbImage, String> {
    let bytes = std::fs::read(&item.path).map_err(|e| e.to_string())?;
    Ok(decode(&bytes, DecodeLimits::default()).map_err(|e| e.to_string())?.rgb)
}

/// The batches of one epoch, in order.
pub struct Epoch {
    receiver: Option<Receiver<(usize, Batch)>>,
    /// Batches that arrived before an earlier one; at most about workers + prefetch.
    waiting: BTreeMap<usize, Batch>,
    next: usize,
    total: usize,
    workers: Vec<JoinHandle<()>>,
}

impl Iterator for Epoch {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next == self.total {
            return None;
        }
        while !self.waiting.contains_key(&self.next) {
            // An error means every worker ended without sending it: a worker panicked,
            // which is a bug, so end the epoch rather than wait forever.
            let (job, batch) = self.receiver.as_ref()?.recv().ok()?;
            self.waiting.insert(job, batch);
        }
        let batch = self.waiting.remove(&self.next);
        self.next += 1;
        batch
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        // Closing the channel makes blocked workers' sends fail, so they stop.
        self.receiver = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, FolderOptions};
    use std::path::Path;
    use woofcam_testkit::imagewoof;

    /// Two val images of each of three classes copied into a temp folder, plus a corrupt
    /// `.jpg` in the second class.
    fn small_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let source = Dataset::from_folder(&imagewoof(), FolderOptions::at_most(Some(2))).unwrap();
        for item in source.valid.iter().filter(|i| i.label < 3) {
            let class = item.path.parent().unwrap().file_name().unwrap();
            for split in ["train", "val"] {
                let target = dir.path().join(split).join(class);
                std::fs::create_dir_all(&target).unwrap();
                std::fs::copy(&item.path, target.join(item.path.file_name().unwrap())).unwrap();
            }
        }
        let bad = dir.path().join("train/n02087394/broken.jpg");
        std::fs::write(bad, b"\xFF\xD8 not really a jpeg").unwrap();
        dir
    }

    fn config(batch_size: usize, workers: usize) -> LoaderConfig {
        LoaderConfig { batch_size, workers, prefetch: 2, seed: 42, drop_last: false, teacher_size: None }
    }

    fn loader(root: &Path, split: Split, config: LoaderConfig) -> Loader {
        let data = Dataset::from_folder(root, FolderOptions::default()).unwrap();
        let items = if split == Split::Train { data.train } else { data.valid };
        Loader::new(items, split, Transform::new(64, 48), config)
    }

    #[test]
    fn corrupt_file_is_skipped_and_counted() {
        let dir = small_folder();
        let batches: Vec<Batch> = loader(dir.path(), Split::Train, config(3, 2)).epoch(0).collect();
        assert_eq!(batches.len(), 3); // 7 files in batches of 3
        let skipped: Vec<&Skipped> = batches.iter().flat_map(|b| &b.skipped).collect();
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].path.ends_with("broken.jpg"));
        assert!(skipped[0].reason.contains("JPEG"), "{}", skipped[0].reason);
        assert_eq!(batches.iter().map(|b| b.len).sum::<usize>(), 6);
        for batch in &batches {
            assert_eq!(batch.images.len(), batch.len * 3 * 48 * 48);
            assert_eq!(batch.labels.len(), batch.len);
        }
    }

    #[test]
    fn order_depends_on_seed_and_epoch_not_on_threads() {
        let dir = small_folder();
        let run = |workers, epoch| -> Vec<Batch> {
            loader(dir.path(), Split::Train, config(2, workers)).epoch(epoch).collect()
        };
        let one = run(1, 0);
        assert_eq!(one, run(3, 0));
        let labels = |batches: &[Batch]| batches.iter().flat_map(|b| b.labels.clone()).collect::<Vec<_>>();
        let mut sorted = labels(&one);
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 0, 1, 1, 2, 2]);
        // Another epoch reshuffles and redraws the augmentation.
        assert_ne!(one, run(3, 1));
    }

    #[test]
    fn teacher_views_come_beside_unchanged_batches() {
        let dir = small_folder();
        let plain: Vec<Batch> = loader(dir.path(), Split::Train, config(3, 2)).epoch(1).collect();
        let config = LoaderConfig { teacher_size: Some(80), ..config(3, 2) };
        let with_views: Vec<Batch> = loader(dir.path(), Split::Train, config).epoch(1).collect();
        assert_eq!(plain.len(), with_views.len());
        for (plain, with_view) in plain.iter().zip(&with_views) {
            assert!(plain.teacher_images.is_empty());
            // The network's batch is the one it gets without a teacher.
            assert_eq!(plain.images, with_view.images);
            assert_eq!(plain.labels, with_view.labels);
            assert_eq!(with_view.teacher_images.len(), with_view.len * 3 * 80 * 80);
        }
    }

    #[test]
    fn drop_last_leaves_out_the_short_batch() {
        let dir = small_folder();
        let config = LoaderConfig { drop_last: true, ..config(3, 2) };
        let loader = loader(dir.path(), Split::Train, config);
        assert_eq!(loader.batches_per_epoch(), 2); // 7 files: 3 + 3, the last 1 left out
        let batches: Vec<Batch> = loader.epoch(0).collect();
        assert_eq!(batches.len(), 2);
        assert!(batches.iter().all(|b| b.len + b.skipped.len() == 3));
    }

    #[test]
    fn valid_keeps_the_listed_order() {
        let dir = small_folder();
        let batches: Vec<Batch> = loader(dir.path(), Split::Valid, config(4, 2)).epoch(3).collect();
        let labels: Vec<usize> = batches.iter().flat_map(|b| b.labels.clone()).collect();
        assert_eq!(labels, [0, 0, 1, 1, 2, 2]);
        assert_eq!(batches[0].len, 4);
    }

    #[test]
    fn stopping_early_ends_the_workers() {
        let dir = small_folder();
        let first = loader(dir.path(), Split::Train, config(1, 2)).epoch(0).next();
        assert_eq!(first.map(|b| b.len + b.skipped.len()), Some(1));
    }
}
