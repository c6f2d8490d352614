//! The ten Imagewoof classes.
//!
//! A widely copied notebook swaps the two terriers (it calls n02093754 "Australian
//! terrier" and n02096294 "Border terrier"). ImageNet says n02093754 is the Border terrier
//! (class 182) and n02096294 the Australian terrier (class 193); so do the photos.

/// An Imagewoof class: its WordNet synset (the folder name) and breed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breed {
    pub synset: &'static str,
    pub name: &'static str,
    /// The class index in ImageNet-1k, for mapping a 1000-class model.
    pub imagenet_index: usize,
}

/// The Imagewoof classes in folder (synset) order, which is the class index order.
pub const IMAGEWOOF: [Breed; 10] = [
    Breed { synset: "n02086240", name: "Shih-Tzu", imagenet_index: 155 },
    Breed { synset: "n02087394", name: "Rhodesian ridgeback", imagenet_index: 159 },
    Breed { synset: "n02088364", name: "Beagle", imagenet_index: 162 },
    Breed { synset: "n02089973", name: "English foxhound", imagenet_index: 167 },
    Breed { synset: "n02093754", name: "Border terrier", imagenet_index: 182 },
    Breed { synset: "n02096294", name: "Australian terrier", imagenet_index: 193 },
    Breed { synset: "n02099601", name: "Golden retriever", imagenet_index: 207 },
    Breed { synset: "n02105641", name: "Old English sheepdog", imagenet_index: 229 },
    Breed { synset: "n02111889", name: "Samoyed", imagenet_index: 258 },
    Breed { synset: "n02115641", name: "Dingo", imagenet_index: 273 },
];

/// The breed name for a synset, if it is one of Imagewoof's.
pub fn breed_name(synset: &str) -> Option<&'static str> {
    IMAGEWOOF.iter().find(|b| b.synset == synset).map(|b| b.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terriers_follow_imagenet_not_the_notebook() {
        assert_eq!(breed_name("n02093754"), Some("Border terrier"));
        assert_eq!(breed_name("n02096294"), Some("Australian terrier"));
    }

    #[test]
    fn synsets_are_sorted_like_the_folders() {
        let synsets: Vec<_> = IMAGEWOOF.iter().map(|b| b.synset).collect();
        let mut sorted = synsets.clone();
        sorted.sort();
        assert_eq!(synsets, sorted);
    }

    #[test]
    fn unknown_synset_has_no_name() {
        assert_eq!(breed_name("n01440764"), None);
    }
}
