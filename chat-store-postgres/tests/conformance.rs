//! The conformance suite against PostgreSQL, one fresh database per case.
//!
//! Needs `DATABASE_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); without it the cases
//! print why and pass, unless `CHAT_REQUIRE_BACKENDS=1`.

use chat_store_postgres::PgTestDatabase;

chat_core::store_conformance_tests!(PgTestDatabase::create());
