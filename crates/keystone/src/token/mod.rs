pub mod fernet;
pub mod key_repository;
