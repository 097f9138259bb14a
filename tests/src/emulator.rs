//! moto's server on a free 127.0.0.1 port, one per test, killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;

/// The account and region every test and sample uses (moto's default account).
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// A running moto server.
pub struct Emulator {
    child: Child,
    pub port: u16,
    pub endpoint: String,
    log: PathBuf,
}

/// Where moto's server is: `$MOTO_SERVER`, else the venv `make venv` creates.
fn moto_server() -> PathBuf {
    std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join(".venv/bin/moto_server"))
}

impl Emulator {
    /// Starts moto's server and waits until it answers. Fails loudly when it cannot.
    pub fn start() -> Emulator {
        Self::start_with(&[])
    }

    /// Starts moto's server with extra environment (e.g. `MOTO_ECS_SERVICE_RUNNING`, the
    /// running count moto gives new services, so their deployment is COMPLETED).
    pub fn start_with(env: &[(&str, &str)]) -> Emulator {
        let bin = moto_server();
        assert!(
            bin.is_file(),
            "moto_server not found at {}: create the emulator's venv with `make venv` (make test does), or set MOTO_SERVER",
            bin.display()
        );
        let port = free_port();
        let log = std::env::temp_dir().join(format!("autopilot-moto-{port}.log"));
        let log_file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err_file = log_file
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone log handle: {e}"));
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(err_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut emu = Emulator {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = emu.child.try_wait() {
                panic!(
                    "moto_server exited with {status} before answering; its log:\n{}",
                    emu.log_text()
                );
            }
            if emu
                .try_signed("ec2", "GET", "/moto-api/", "", &[])
                .is_some_and(|(s, _)| s > 0)
            {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server did not answer on port {port} within 60 s; its log:\n{}",
                    emu.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        emu
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An SDK configuration pointing at the emulator.
    pub fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_as("testing")
    }

    /// An SDK configuration acting as the holder of `access_key` (moto's account of an assumed
    /// role's key: [`Emulator::account_key`]).
    pub fn sdk_config_as(&self, access_key: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(
                Credentials::new(access_key, "testing", None, None, "emulator"),
            ))
            .build()
    }

    /// The environment a function process needs to reach the emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Clears every resource (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let (status, body) = self.http("POST", "/moto-api/reset", "");
        assert_eq!(status, 200, "reset failed: {body}");
    }

    /// An EC2 Query API call (the tests need no EC2 SDK for a VPC, a subnet and a group).
    pub fn ec2(&self, params: &[(&str, &str)]) -> String {
        self.ec2_as("testing", params)
    }

    /// An EC2 call as the holder of `access_key`.
    pub fn ec2_as(&self, access_key: &str, params: &[(&str, &str)]) -> String {
        self.query_as(access_key, "ec2", "2016-11-15", params)
    }

    /// A VPC with DNS host names on (moto's Fargate RunTask needs them) and one subnet per CIDR
    /// given: `(vpc id, subnet ids)`.
    pub fn vpc(&self, subnet_cidrs: &[&str]) -> (String, Vec<String>) {
        self.vpc_as("testing", subnet_cidrs)
    }

    /// [`Emulator::vpc`] in the account of `access_key`.
    pub fn vpc_as(&self, access_key: &str, subnet_cidrs: &[&str]) -> (String, Vec<String>) {
        let ec2 = |params: &[(&str, &str)]| self.ec2_as(access_key, params);
        let vpc = xml_value(
            &ec2(&[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")]),
            "vpcId",
        )
        .unwrap_or_else(|| panic!("CreateVpc returned no vpcId"));
        ec2(&[
            ("Action", "ModifyVpcAttribute"),
            ("VpcId", &vpc),
            ("EnableDnsHostnames.Value", "true"),
        ]);
        let subnets = subnet_cidrs
            .iter()
            .map(|cidr| {
                xml_value(
                    &ec2(&[
                        ("Action", "CreateSubnet"),
                        ("VpcId", &vpc),
                        ("CidrBlock", cidr),
                    ]),
                    "subnetId",
                )
                .unwrap_or_else(|| panic!("CreateSubnet returned no subnetId"))
            })
            .collect();
        (vpc, subnets)
    }

    /// A security group in `vpc`; returns its id.
    pub fn security_group(&self, vpc: &str, name: &str, description: &str) -> String {
        self.security_group_as("testing", vpc, name, description)
    }

    /// [`Emulator::security_group`] in the account of `access_key`.
    pub fn security_group_as(
        &self,
        access_key: &str,
        vpc: &str,
        name: &str,
        description: &str,
    ) -> String {
        xml_value(
            &self.ec2_as(
                access_key,
                &[
                    ("Action", "CreateSecurityGroup"),
                    ("GroupName", name),
                    ("GroupDescription", description),
                    ("VpcId", vpc),
                ],
            ),
            "groupId",
        )
        .unwrap_or_else(|| panic!("CreateSecurityGroup returned no groupId"))
    }

    /// A Query-protocol call (EC2, CloudFormation) to `service` (its signing name); panics
    /// with the response when it is not 200. Returns the XML.
    pub fn query(&self, service: &str, version: &str, params: &[(&str, &str)]) -> String {
        self.query_as("testing", service, version, params)
    }

    /// A JSON-protocol call (`X-Amz-Target: target`) to `service` (its signing name), e.g.
    /// `json("events", "AWSEvents.PutRule", ...)`; panics unless it answers 200 with JSON.
    pub fn json(&self, service: &str, target: &str, body: &serde_json::Value) -> serde_json::Value {
        self.json_as("testing", service, target, body)
    }

    /// A REST-JSON call (Lambda) to `service`; panics unless it answers 200 with JSON.
    pub fn rest(&self, service: &str, method: &str, path: &str) -> serde_json::Value {
        let (status, text) = self.signed(service, method, path, "", &[]);
        assert_eq!(status, 200, "{method} {path} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }

    /// A REST-JSON call with a JSON body (Lambda's `PUT .../event-source-mappings/{id}`);
    /// panics unless it answers 2xx with JSON.
    pub fn rest_json(
        &self,
        service: &str,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let (status, text) = self.signed(
            service,
            method,
            path,
            &body.to_string(),
            &[("Content-Type", "application/json")],
        );
        assert!(
            (200..300).contains(&status),
            "{method} {path} {body} failed ({status}): {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }

    /// A plain HTTP request to the emulator's own API (`/moto-api/...`); panics when it cannot
    /// be made.
    pub fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.signed(
            "ec2",
            method,
            path,
            body,
            &[("Content-Type", "application/json")],
        )
    }

    /// A request signed for `service`: moto routes a request by the service named in its
    /// Authorization header (it checks no signature). Panics when it cannot be made.
    fn signed(
        &self,
        service: &str,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        self.try_signed(service, method, path, body, headers)
            .unwrap_or_else(|| panic!("{method} {path}: the emulator did not answer"))
    }

    fn try_signed(
        &self,
        service: &str,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Option<(u16, String)> {
        self.try_signed_as("testing", service, method, path, body, headers)
    }

    /// A Query-protocol call as the holder of `access_key` (moto takes the account from it: the
    /// key of a role assumed with STS acts in the role's account); panics unless it answers 200.
    pub fn query_as(
        &self,
        access_key: &str,
        service: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> String {
        let mut body = format!("Version={version}");
        for (k, v) in params {
            body.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        let (status, text) = self
            .try_signed_as(
                access_key,
                service,
                "POST",
                "/",
                &body,
                &[("Content-Type", "application/x-www-form-urlencoded")],
            )
            .unwrap_or_else(|| panic!("{service}: the emulator did not answer"));
        assert_eq!(status, 200, "{service} {params:?} failed: {text}");
        text
    }

    /// A JSON-protocol call as the holder of `access_key` (see [`Emulator::query_as`]).
    pub fn json_as(
        &self,
        access_key: &str,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let (status, text) = self
            .try_signed_as(
                access_key,
                service,
                "POST",
                "/",
                &body.to_string(),
                &[
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", target),
                ],
            )
            .unwrap_or_else(|| panic!("{target}: the emulator did not answer"));
        assert_eq!(status, 200, "{target} {body} failed: {text}");
        if text.trim().is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {text}"))
    }

    /// Credentials of another account of the emulator: STS `AssumeRole` of
    /// `arn:aws:iam::<account>:role/<anything>` (the role need not exist in moto); returns the
    /// access key id, which is all moto reads.
    pub fn account_key(&self, account: &str) -> String {
        let xml = self.query(
            "sts",
            "2011-06-15",
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &format!("arn:aws:iam::{account}:role/tests")),
                ("RoleSessionName", "tests"),
            ],
        );
        xml_value(&xml, "AccessKeyId")
            .unwrap_or_else(|| panic!("AssumeRole returned no AccessKeyId: {xml}"))
    }

    fn try_signed_as(
        &self,
        access_key: &str,
        service: &str,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .ok()?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={access_key}/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw).to_string();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        Some((
            status,
            if chunked {
                dechunk(body)
            } else {
                body.to_string()
            },
        ))
    }
}

/// The body of a chunked HTTP response, joined.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// The text between `<tag>` and `</tag>`, first occurrence.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
