//! The names by which the options' enums (fit, upsampling, method, colour map, precision)
//! are spelt on command lines, in files and in the page: each name written once.

/// Gives a fieldless enum `ALL` (every value, in the order a menu lists them), `name()` (the
/// name files record and `Display` prints), `from_name()` and `Display`, from one list of
/// `Variant => "name"`. Its `FromStr` stays beside the enum, where the error says what to
/// choose among.
macro_rules! names {
    ($type:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            /// Every value, in the order a menu lists them.
            pub const ALL: [$type; [$($name),+].len()] = [$($type::$variant),+];

            /// The name files record, `Display` prints and `from_name` takes.
            pub fn name(self) -> &'static str {
                match self {
                    $($type::$variant => $name),+
                }
            }

            /// The value of this name, surrounding spaces ignored.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.name() == name.trim())
            }
        }

        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use names;
