//! Which of the teacher's 1000 ImageNet outputs answer for the student's classes.

use woofcam::labels::IMAGEWOOF;

use super::TeacherError;

/// The ImageNet-1k class index of each synset, in the order given (the student's class
/// order), from the one table of known synsets, [`woofcam::labels::IMAGEWOOF`].
///
/// # Errors
///
/// [`TeacherError::UnknownSynset`] for the first synset the table does not hold.
pub fn imagenet_indices<S: AsRef<str>>(synsets: &[S]) -> Result<Vec<usize>, TeacherError> {
    synsets
        .iter()
        .map(|synset| {
            let synset = synset.as_ref();
            IMAGEWOOF
                .iter()
                .find(|breed| breed.synset == synset)
                .map(|breed| breed.imagenet_index)
                .ok_or_else(|| TeacherError::UnknownSynset(synset.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagewoof_in_folder_order() {
        let synsets: Vec<_> = IMAGEWOOF.iter().map(|breed| breed.synset).collect();
        assert_eq!(imagenet_indices(&synsets).unwrap(), [155, 159, 162, 167, 182, 193, 207, 229, 258, 273]);
    }

    #[test]
    fn any_subset_in_any_order() {
        // The terriers, which a widely copied notebook swaps: Australian 193, Border 182.
        assert_eq!(imagenet_indices(&["n02096294", "n02093754"]).unwrap(), [193, 182]);
    }

    #[test]
    fn unknown_synset_is_refused() {
        let err = imagenet_indices(&["n02086240", "n01440764"]).unwrap_err();
        assert!(matches!(&err, TeacherError::UnknownSynset(s) if s == "n01440764"), "{err}");
    }
}
