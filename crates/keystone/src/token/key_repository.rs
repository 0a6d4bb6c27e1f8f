//! Fernet key repositories, as `keystone/common/fernet_utils.py` (what `keystone-manage fernet_setup` and
//! `fernet_rotate` run, and what the token and credential providers load keys from).
//!
//! A repository is a directory of files named `0`, `1`, `2`, ..., each holding one url-safe base64 Fernet key
//! (see [`super::fernet::encode_key`]):
//!
//! - `0` is the *staged* key: not used to encrypt yet, but already accepted, so that a rotation can be copied to
//!   every node before any node encrypts with the new key;
//! - the highest index is the *primary* key, which encrypts;
//! - the keys in between are *secondary*: they only decrypt tokens made before the latest rotations.
//!
//! [`KeyRepository::rotate`] promotes the staged key to primary under the next index, stages a new key, and
//! removes the oldest secondaries so that at most `max_active_keys` keys remain (staged included). Files are
//! written as `0.tmp` (mode 0600) and renamed into place, so a reader never sees a half-written key; a rotation
//! interrupted between its two renames is finished by the next `setup` or `rotate`.
//!
//! Nothing here is specific to tokens: the credential encryption keys use the same layout in another directory.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::fernet::{decode_key, encode_key, generate_key};

/// The name of the staged key's file, and of the temporary file new keys are written to first.
const STAGED_KEY: &str = "0";
const TEMPORARY_KEY: &str = "0.tmp";

/// Errors reading or changing a key repository; each names the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum KeyRepositoryError {
    #[error("max_active_keys must be at least 1, got {0}")]
    InvalidMaxActiveKeys(usize),
    #[error("could not create the key repository {}", path.display())]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not read the key repository {}", path.display())]
    ReadDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not read the key file {}", path.display())]
    ReadKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not write the key file {}", path.display())]
    WriteKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not rename the key file {} to {}", from.display(), to.display())]
    RenameKey {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not remove the key file {}", path.display())]
    RemoveKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the key file {} does not hold a Fernet key (32 bytes of url-safe base64)", path.display())]
    InvalidKey { path: PathBuf },
    #[error("the key repository {} holds no keys; set it up with `keystone-manage fernet_setup`", path.display())]
    Empty { path: PathBuf },
    #[error(
        "the key repository {} has no staged key {}; restore it from another node or set the repository up again",
        path.display(),
        STAGED_KEY
    )]
    MissingStagedKey { path: PathBuf },
    #[error("the key repository {} has run out of key indices", path.display())]
    IndexOverflow { path: PathBuf },
}

/// A directory of rotating Fernet keys.
#[derive(Debug, Clone)]
pub struct KeyRepository {
    dir: PathBuf,
    max_active_keys: usize,
}

impl KeyRepository {
    /// `max_active_keys` counts the staged, primary and secondary keys together (upstream's
    /// `[fernet_tokens] max_active_keys`, 3 by default; the credential repository uses 3).
    pub fn new(
        dir: impl Into<PathBuf>,
        max_active_keys: usize,
    ) -> Result<Self, KeyRepositoryError> {
        if max_active_keys == 0 {
            return Err(KeyRepositoryError::InvalidMaxActiveKeys(max_active_keys));
        }
        Ok(Self {
            dir: dir.into(),
            max_active_keys,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max_active_keys(&self) -> usize {
        self.max_active_keys
    }

    /// Creates the repository (mode 0700) with a staged key `0` and a primary key `1`. Does nothing to a
    /// repository that already has a staged key, so running it again keeps every key.
    pub fn setup(&self) -> Result<(), KeyRepositoryError> {
        if !self.dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|source| KeyRepositoryError::CreateDirectory {
                    path: self.dir.clone(),
                    source,
                })?;
            tracing::info!(path = %self.dir.display(), "created key repository");
        }
        self.finish_interrupted_rotation()?;
        if self.dir.join(STAGED_KEY).exists() {
            tracing::info!(path = %self.dir.display(), "key repository is already initialized");
            return Ok(());
        }
        self.write_new_staged_key()?;
        // Promotes the key just staged, so the repository ends with a primary and a staged key.
        self.rotate()
    }

    /// Promotes the staged key to be the new primary, stages a new key, and removes the oldest secondary keys
    /// beyond `max_active_keys`.
    pub fn rotate(&self) -> Result<(), KeyRepositoryError> {
        self.finish_interrupted_rotation()?;
        let key_files = self.key_files()?;
        tracing::info!(
            path = %self.dir.display(),
            keys = ?key_files.keys().collect::<Vec<_>>(),
            "starting key rotation"
        );
        let Some((&current_primary, _)) = key_files.last_key_value() else {
            return Err(KeyRepositoryError::Empty {
                path: self.dir.clone(),
            });
        };
        if !key_files.contains_key(&0) {
            return Err(KeyRepositoryError::MissingStagedKey {
                path: self.dir.clone(),
            });
        }
        let new_primary =
            current_primary
                .checked_add(1)
                .ok_or_else(|| KeyRepositoryError::IndexOverflow {
                    path: self.dir.clone(),
                })?;

        // The next staged key is written in full before anything moves, so that the repository always has a
        // staged key or a complete temporary one to take its place.
        let temporary = self.write_temporary_key()?;
        let staged = self.dir.join(STAGED_KEY);
        let promoted = self.dir.join(new_primary.to_string());
        rename(&staged, &promoted)?;
        tracing::info!(path = %promoted.display(), "promoted the staged key to primary");
        rename(&temporary, &staged)?;
        self.sync_directory()?;

        // The staged key counts towards max_active_keys, so max_active_keys - 1 numbered keys stay.
        let mut numbered: Vec<u64> = key_files.into_keys().filter(|&index| index != 0).collect();
        numbered.push(new_primary);
        let excess = numbered.len().saturating_sub(self.max_active_keys - 1);
        for index in &numbered[..excess] {
            let path = self.dir.join(index.to_string());
            tracing::info!(path = %path.display(), "removing excess key");
            fs::remove_file(&path)
                .map_err(|source| KeyRepositoryError::RemoveKey { path, source })?;
        }
        if excess > 0 {
            self.sync_directory()?;
        }
        Ok(())
    }

    /// Every key, primary first, then the secondaries from newest to oldest, then the staged key.
    pub fn load(&self) -> Result<Vec<[u8; 32]>, KeyRepositoryError> {
        self.warn_if_world_readable();
        let key_files = self.key_files()?;
        if key_files.is_empty() {
            return Err(KeyRepositoryError::Empty {
                path: self.dir.clone(),
            });
        }
        let keys = key_files
            .into_values()
            .rev()
            .map(|(path, text)| {
                decode_key(&text).map_err(|_| KeyRepositoryError::InvalidKey { path })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() != self.max_active_keys {
            tracing::debug!(
                path = %self.dir.display(),
                count = keys.len(),
                max_active_keys = self.max_active_keys,
                "loaded fewer or more keys than max_active_keys; perhaps there have not been enough rotations yet"
            );
        }
        Ok(keys)
    }

    /// The indices of the keys present, in ascending order (`0` is the staged key, the last the primary).
    pub fn key_indices(&self) -> Result<Vec<u64>, KeyRepositoryError> {
        Ok(self.key_files()?.into_keys().collect())
    }

    /// The key files by index, with their contents. Files whose names are not key indices (such as `0.tmp`)
    /// and empty files are skipped, as upstream does.
    fn key_files(&self) -> Result<BTreeMap<u64, (PathBuf, String)>, KeyRepositoryError> {
        let read_error = |source| KeyRepositoryError::ReadDirectory {
            path: self.dir.clone(),
            source,
        };
        let mut key_files = BTreeMap::new();
        for entry in fs::read_dir(&self.dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let Some(index) = key_index(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            let path = entry.path();
            // Follows symbolic links, as upstream's os.path.isfile does.
            if !fs::metadata(&path)
                .map(|metadata| metadata.is_file())
                .unwrap_or(false)
            {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|source| KeyRepositoryError::ReadKey {
                path: path.clone(),
                source,
            })?;
            if text.trim().is_empty() {
                tracing::warn!(path = %path.display(), "ignoring empty key file in key repository");
                continue;
            }
            key_files.insert(index, (path, text));
        }
        Ok(key_files)
    }

    /// Writes a new key to `0.tmp`, mode 0600, flushed to disk; returns its path.
    fn write_temporary_key(&self) -> Result<PathBuf, KeyRepositoryError> {
        let path = self.dir.join(TEMPORARY_KEY);
        let write_error = |source| KeyRepositoryError::WriteKey {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(write_error)?;
        // The mode above only applies when the file is created; a leftover 0.tmp keeps whatever it had.
        file.set_permissions(Permissions::from_mode(0o600))
            .map_err(write_error)?;
        file.write_all(encode_key(&generate_key()).as_bytes())
            .map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        Ok(path)
    }

    fn write_new_staged_key(&self) -> Result<(), KeyRepositoryError> {
        let temporary = self.write_temporary_key()?;
        rename(&temporary, &self.dir.join(STAGED_KEY))?;
        self.sync_directory()
    }

    /// A rotation stopped between its two renames leaves no staged key but a complete `0.tmp`: put it in place.
    fn finish_interrupted_rotation(&self) -> Result<(), KeyRepositoryError> {
        let staged = self.dir.join(STAGED_KEY);
        let temporary = self.dir.join(TEMPORARY_KEY);
        if staged.exists() || !temporary.is_file() {
            return Ok(());
        }
        let text =
            fs::read_to_string(&temporary).map_err(|source| KeyRepositoryError::ReadKey {
                path: temporary.clone(),
                source,
            })?;
        if decode_key(&text).is_err() {
            // Not a rotation's leftover (those are written in full first): leave it for a person to look at.
            tracing::warn!(path = %temporary.display(), "ignoring an incomplete temporary key");
            return Ok(());
        }
        tracing::warn!(path = %temporary.display(), "finishing an interrupted key rotation");
        rename(&temporary, &staged)?;
        self.sync_directory()
    }

    /// Makes the renames and removals durable.
    fn sync_directory(&self) -> Result<(), KeyRepositoryError> {
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| KeyRepositoryError::WriteKey {
                path: self.dir.clone(),
                source,
            })
    }

    fn warn_if_world_readable(&self) {
        if let Ok(metadata) = fs::metadata(&self.dir) {
            if metadata.permissions().mode() & 0o005 != 0 {
                tracing::warn!(path = %self.dir.display(), "key repository is world readable");
            }
        }
    }
}

/// The index a file name stands for: only plain decimal names (`7`, not `07` or `+7`).
fn key_index(name: &str) -> Option<u64> {
    let index: u64 = name.parse().ok()?;
    (index.to_string() == name).then_some(index)
}

fn rename(from: &Path, to: &Path) -> Result<(), KeyRepositoryError> {
    fs::rename(from, to).map_err(|source| KeyRepositoryError::RenameKey {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::fernet::{FernetError, TokenFormatter, TokenPayload, TokenScope};
    use super::*;

    /// A directory under the system temporary directory, removed when dropped.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!(
                "ferrostack-key-repository-{}",
                uuid::Uuid::new_v4().simple()
            )))
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn read_key(repository: &KeyRepository, index: u64) -> [u8; 32] {
        decode_key(&fs::read_to_string(repository.dir().join(index.to_string())).unwrap()).unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn setup_creates_a_staged_and_a_primary_key() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(dir.0.join("fernet-keys"), 3).unwrap();
        repository.setup().unwrap();
        assert_eq!(mode(repository.dir()), 0o700);
        assert_eq!(repository.key_indices().unwrap(), [0, 1]);
        for index in ["0", "1"] {
            let path = repository.dir().join(index);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(fs::read_to_string(&path).unwrap().len(), 44);
        }
        assert!(!repository.dir().join(TEMPORARY_KEY).exists());
        let keys = repository.load().unwrap();
        assert_eq!(keys, [read_key(&repository, 1), read_key(&repository, 0)]);
        assert_ne!(keys[0], keys[1]);
    }

    #[test]
    fn setup_is_idempotent() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        repository.rotate().unwrap();
        let before = repository.load().unwrap();
        repository.setup().unwrap();
        assert_eq!(repository.key_indices().unwrap(), [0, 1, 2]);
        assert_eq!(repository.load().unwrap(), before);
    }

    #[test]
    fn rotate_promotes_the_staged_key_and_stages_a_new_one() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        let (staged, primary) = (read_key(&repository, 0), read_key(&repository, 1));
        repository.rotate().unwrap();
        assert_eq!(repository.key_indices().unwrap(), [0, 1, 2]);
        assert_eq!(read_key(&repository, 2), staged);
        assert_eq!(read_key(&repository, 1), primary);
        let new_staged = read_key(&repository, 0);
        assert!(new_staged != staged && new_staged != primary);
        assert_eq!(mode(&repository.dir().join("0")), 0o600);
        assert_eq!(repository.load().unwrap(), [staged, primary, new_staged]);
    }

    #[test]
    fn rotate_keeps_max_active_keys() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        let mut staged = read_key(&repository, 0);
        for rotation in 2..=6u64 {
            repository.rotate().unwrap();
            // The previous staged key is the new primary; the oldest secondary went.
            assert_eq!(read_key(&repository, rotation), staged);
            assert_eq!(
                repository.key_indices().unwrap(),
                [0, rotation - 1, rotation]
            );
            assert_eq!(repository.load().unwrap().len(), 3);
            staged = read_key(&repository, 0);
        }

        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 5).unwrap();
        repository.setup().unwrap();
        for _ in 0..6 {
            repository.rotate().unwrap();
        }
        assert_eq!(repository.key_indices().unwrap(), [0, 4, 5, 6, 7]);

        // Upstream's edge: with one active key only the staged key survives a rotation.
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 1).unwrap();
        repository.setup().unwrap();
        assert_eq!(repository.key_indices().unwrap(), [0]);
        assert!(matches!(
            KeyRepository::new(&dir.0, 0),
            Err(KeyRepositoryError::InvalidMaxActiveKeys(0))
        ));
    }

    #[test]
    fn rotation_keeps_tokens_valid_until_their_key_is_purged() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        let formatter = TokenFormatter::new(repository.load().unwrap()).unwrap();
        let now = chrono::Utc::now();
        let payload = TokenPayload {
            user_id: "admin".into(),
            methods: vec!["password".into()],
            scope: TokenScope::System,
            expires_at: now + chrono::Duration::hours(1),
            issued_at: now,
            audit_ids: vec![super::super::fernet::new_audit_id()],
            app_cred_id: None,
            thumbprint: None,
        };
        let token = formatter.create_token(&payload).unwrap();

        // Made with key 1; after one rotation key 1 is a secondary and still validates.
        repository.rotate().unwrap();
        formatter.reload_keys(repository.load().unwrap()).unwrap();
        assert!(formatter.validate_token(&token).is_ok());

        // After the next, key 1 is removed and the token with it.
        repository.rotate().unwrap();
        assert_eq!(repository.key_indices().unwrap(), [0, 2, 3]);
        formatter.reload_keys(repository.load().unwrap()).unwrap();
        assert!(matches!(
            formatter.validate_token(&token),
            Err(FernetError::InvalidToken)
        ));
    }

    #[test]
    fn a_token_made_with_the_staged_key_validates_everywhere() {
        // The point of staging: a node that has rotated encrypts with the old staged key, which nodes that
        // have not rotated yet already accept.
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        let not_rotated = TokenFormatter::new(repository.load().unwrap()).unwrap();
        repository.rotate().unwrap();
        let rotated = TokenFormatter::new(repository.load().unwrap()).unwrap();
        let now = chrono::Utc::now();
        let token = rotated
            .create_token(&TokenPayload {
                user_id: "admin".into(),
                methods: vec!["password".into()],
                scope: TokenScope::Unscoped,
                expires_at: now,
                issued_at: now,
                audit_ids: vec![],
                app_cred_id: None,
                thumbprint: None,
            })
            .unwrap();
        assert!(not_rotated.validate_token(&token).is_ok());
    }

    #[test]
    fn other_files_are_ignored_and_bad_keys_reported() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        fs::write(dir.0.join("README"), "not a key").unwrap();
        fs::write(dir.0.join("01"), "not a key").unwrap();
        fs::write(dir.0.join("7"), "").unwrap();
        fs::create_dir(dir.0.join("9")).unwrap();
        assert_eq!(repository.key_indices().unwrap(), [0, 1]);
        assert_eq!(repository.load().unwrap().len(), 2);

        // A trailing newline, as an operator's copy may have, is fine.
        let primary = read_key(&repository, 1);
        fs::write(dir.0.join("1"), format!("{}\n", encode_key(&primary))).unwrap();
        assert_eq!(repository.load().unwrap()[0], primary);

        fs::write(dir.0.join("4"), "garbage").unwrap();
        let error = repository.load().unwrap_err();
        assert!(
            matches!(&error, KeyRepositoryError::InvalidKey { path } if path.ends_with("4")),
            "{error}"
        );
        assert!(error
            .to_string()
            .contains(&dir.0.join("4").display().to_string()));
    }

    #[test]
    fn an_uninitialized_repository_is_reported() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(dir.0.join("missing"), 3).unwrap();
        assert!(matches!(
            repository.load(),
            Err(KeyRepositoryError::ReadDirectory { .. })
        ));
        assert!(matches!(
            repository.rotate(),
            Err(KeyRepositoryError::ReadDirectory { .. })
        ));

        fs::create_dir_all(repository.dir()).unwrap();
        assert!(matches!(
            repository.load(),
            Err(KeyRepositoryError::Empty { .. })
        ));
        assert!(matches!(
            repository.rotate(),
            Err(KeyRepositoryError::Empty { .. })
        ));
        assert!(!repository.dir().join(TEMPORARY_KEY).exists());

        // Keys but no staged key.
        fs::write(repository.dir().join("3"), encode_key(&generate_key())).unwrap();
        assert!(matches!(
            repository.rotate(),
            Err(KeyRepositoryError::MissingStagedKey { .. })
        ));
        assert_eq!(repository.key_indices().unwrap(), [3]);
    }

    #[test]
    fn an_interrupted_rotation_is_finished() {
        let dir = TestDir::new();
        let repository = KeyRepository::new(&dir.0, 3).unwrap();
        repository.setup().unwrap();
        // As if rotate stopped after promoting 0 to 2 but before putting 0.tmp in place.
        let temporary = repository.write_temporary_key().unwrap();
        let next_staged = decode_key(&fs::read_to_string(&temporary).unwrap()).unwrap();
        fs::rename(dir.0.join("0"), dir.0.join("2")).unwrap();

        repository.setup().unwrap();
        assert_eq!(repository.key_indices().unwrap(), [0, 1, 2]);
        assert_eq!(read_key(&repository, 0), next_staged);
        assert!(!temporary.exists());
    }
}
