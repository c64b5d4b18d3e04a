//! The private TLS servers of `scripts/tls-servers.sh` (a PostgreSQL and a MariaDB that
//! refuse unencrypted connections, with a test CA made at test time). `scripts/test.sh`
//! starts them and exports where they are; without them the TLS tests skip visibly (and
//! fail under `CI=true`).

use super::skip::skip;

/// One TLS server and the certificates around it.
pub struct TlsServer {
    /// `scheme://user@localhost:port/database`, without TLS parameters.
    pub url: String,
    /// The CA that signed the server's certificate.
    pub ca: String,
    /// A CA that signed nothing this server presents.
    pub wrong_ca: String,
    /// A client certificate and key signed by `ca` (CN=postgres).
    pub client_cert: String,
    pub client_key: String,
}

impl TlsServer {
    /// The server named by the environment variable `url_variable`
    /// (`DATAFLOW_TEST_POSTGRES_TLS` or `DATAFLOW_TEST_MYSQL_TLS`), or `None` after a skip.
    pub fn from_env(url_variable: &str) -> Option<TlsServer> {
        let read = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let found = (
            read(url_variable),
            read("DATAFLOW_TLS_CA"),
            read("DATAFLOW_TLS_WRONG_CA"),
            read("DATAFLOW_TLS_CLIENT_CERT"),
            read("DATAFLOW_TLS_CLIENT_KEY"),
        );
        match found {
            (Some(url), Some(ca), Some(wrong_ca), Some(client_cert), Some(client_key)) => {
                Some(TlsServer { url, ca, wrong_ca, client_cert, client_key })
            }
            _ => {
                skip(&format!(
                    "no TLS server: {url_variable} and DATAFLOW_TLS_* are unset (scripts/test.sh \
                     sets them from `scripts/tls-servers.sh start`)"
                ));
                None
            }
        }
    }

    /// The URL of `database` on this server with the query `parameters` (`a=b&c=d`).
    pub fn url_for(&self, database: &str, parameters: &str) -> String {
        let base = self.url.rsplit_once('/').map_or(self.url.as_str(), |(base, _)| base);
        format!("{base}/{database}?{parameters}")
    }
}
