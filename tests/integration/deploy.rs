//! The deployment artifacts (`deploy/`) checked against what the operations issue asks of them,
//! since no container engine or cluster runs here; and the configuration file and
//! `isms config check` through the real binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_isms");

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file, as JSON values.
fn yaml_documents(relative: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(&read(relative))
        .map(|document| Value::deserialize(document).unwrap_or_else(|e| panic!("{relative} does not parse: {e}")))
        .collect()
}

fn kind<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    documents.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn every_yaml_file_parses() {
    let mut files = vec!["compose.yaml".to_owned()];
    for entry in std::fs::read_dir(deploy_dir().join("k8s")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(name.ends_with(".yaml"), "k8s/{name}: manifests are .yaml");
        files.push(format!("k8s/{name}"));
    }
    for file in &files {
        assert!(!yaml_documents(file).is_empty(), "{file} is empty");
    }
    let kustomization = &yaml_documents("k8s/kustomization.yaml")[0];
    let listed: BTreeSet<&str> =
        kustomization["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    for file in files.iter().filter_map(|f| f.strip_prefix("k8s/")).filter(|f| *f != "kustomization.yaml") {
        assert!(listed.contains(file), "kustomization.yaml does not list {file}");
    }
}

#[test]
fn the_statefulset_runs_one_locked_replica_hardened_with_probes_and_resources() {
    let text = read("k8s/statefulset.yaml");
    assert!(text.contains("exclusive lock"), "the manifest says why there is one replica");
    let documents = yaml_documents("k8s/statefulset.yaml");
    let set = kind(&documents, "StatefulSet");
    assert_eq!(set["spec"]["replicas"], 1);
    let claim = &set["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteOnce");
    assert!(claim["spec"]["resources"]["requests"]["storage"].is_string());

    let pod = &set["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let labels = &set["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&set["spec"]["selector"]["matchLabels"], labels);

    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for (kind, resource) in [("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory")] {
        assert!(!container["resources"][kind][resource].is_null(), "resources.{kind}.{resource}");
    }
    let env = |name: &str| {
        container["env"].as_array().unwrap().iter().find(|e| e["name"] == name).map(|e| e["value"].clone())
    };
    assert_eq!(env("ISMS_DATA_DIR"), Some("/data".into()));
    let data_mount = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == "/data").unwrap();
    assert_eq!(data_mount["name"], claim["metadata"]["name"], "the data volume is the claim");
    let port = &container["ports"][0];

    let services = yaml_documents("k8s/service.yaml");
    for service in services.iter().filter(|d| d["kind"] == "Service") {
        for (key, value) in service["spec"]["selector"].as_object().unwrap() {
            assert_eq!(&labels[key], value, "the service selects the pod");
        }
        assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    }
    assert!(services.iter().any(|s| s["metadata"]["name"] == set["spec"]["serviceName"]));
    let policy = kind(&yaml_documents("k8s/networkpolicy.yaml"), "NetworkPolicy").clone();
    assert_eq!(&policy["spec"]["podSelector"]["matchLabels"], labels, "the network policy covers the pod");
    let namespaces = yaml_documents("k8s/namespace.yaml");
    let namespace = &kind(&namespaces, "Namespace")["metadata"];
    assert_eq!(namespace["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
    for resource in [set, &policy] {
        assert_eq!(resource["metadata"]["namespace"], namespace["name"], "{}", resource["kind"]);
    }

    // The ConfigMap's file is a valid configuration.
    let config =
        kind(&yaml_documents("k8s/configmap.yaml"), "ConfigMap")["data"]["isms.toml"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("isms.toml"), config).unwrap();
    let checked = config_check(&[dir.path().join("isms.toml").to_str().unwrap()], &[]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
}

#[test]
fn compose_runs_read_only_without_capabilities_with_a_health_check_on_readyz() {
    let compose = &yaml_documents("compose.yaml")[0];
    let service = &compose["services"]["isms"];
    assert_eq!(service["read_only"], true);
    assert_eq!(service["cap_drop"], serde_json::json!(["ALL"]));
    assert!(service["security_opt"].to_string().contains("no-new-privileges:true"));
    assert!(service["healthcheck"]["test"].to_string().contains("/readyz"));
    assert_eq!(service["stop_signal"], "SIGTERM");
    let volumes = service["volumes"].to_string();
    assert!(volumes.contains("isms-data:/data"), "{volumes}");
    assert!(volumes.contains("./isms.toml:/etc/isms/isms.toml:ro"), "{volumes}");
    assert!(compose["volumes"]["isms-data"].is_null() || compose["volumes"]["isms-data"].is_object());
    assert!(compose["volumes"].as_object().unwrap().contains_key("isms-data"));
    assert!(service["deploy"]["resources"]["limits"]["memory"].is_string());
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_with_a_volume_and_a_readiness_health_check() {
    let dockerfile = read("Dockerfile");
    // Instructions with their continuation lines joined, comments left out.
    let joined = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let instructions: Vec<&str> = joined.lines().filter(|l| !l.is_empty()).collect();
    let from: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    assert!(from[0].contains(" AS "), "the build stage is named");
    assert!(dockerfile.contains("COPY --from="), "the runtime stage copies from the build stage");
    let user = instructions.iter().rev().find(|l| l.starts_with("USER ")).expect("a USER instruction");
    let user = user.trim_start_matches("USER ").trim();
    assert!(user != "root" && user != "0" && !user.starts_with("0:"), "runs as non-root, not {user}");
    let health = instructions.iter().find(|l| l.starts_with("HEALTHCHECK ")).expect("a HEALTHCHECK");
    assert!(health.contains("/readyz"), "{health}");
    assert!(instructions.contains(&"VOLUME /data"));
    assert!(dockerfile.contains("ISMS_DATA_DIR=/data"));
}

/// `[Service]` settings of the unit: key → every value given.
fn unit_settings(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut settings = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with('[') {
            section = line.to_owned();
        } else if section == "[Service]" {
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not key=value: {line}"));
            settings.push((key.to_owned(), value.to_owned()));
        }
    }
    settings
}

#[test]
fn the_systemd_unit_is_hardened_and_does_not_restart_into_a_broken_chain() {
    let settings = unit_settings(&read("isms.service"));
    let value = |key: &str| {
        settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{key} missing"))
    };
    assert!(value("ExecStart").ends_with("isms serve"));
    for (key, expected) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("KillSignal", "SIGTERM"),
        ("Restart", "on-failure"),
    ] {
        assert_eq!(value(key), expected, "{key}");
    }
    assert!(value("ReadWritePaths").split_whitespace().any(|p| p == "/var/lib/isms"));
    assert!(value("Environment").contains("ISMS_DATA_DIR=/var/lib/isms"));
    assert!(value("RestrictAddressFamilies").contains("AF_INET"));
    let no_restart: Vec<&str> = value("RestartPreventExitStatus").split_whitespace().collect();
    assert!(no_restart.contains(&isms::exit_code::CHAIN_BROKEN.to_string().as_str()));
    assert!(no_restart.contains(&isms::exit_code::USAGE.to_string().as_str()));
}

fn config_check(files: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.args(["config", "check"]);
    for file in files {
        command.args(["--config", file]);
    }
    command.env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[test]
fn the_example_file_holds_every_option_at_its_default() {
    let path = deploy_dir().join("isms.toml");
    let (settings, _) = isms::config::Settings::load(Some(&path), &|_| None, &Default::default()).unwrap();
    assert_eq!(settings, isms::config::Settings::default(), "deploy/isms.toml shows the defaults");
    let text = read("isms.toml");
    for (key, env, _) in isms::config::keys() {
        let last = key.rsplit('.').next().unwrap();
        assert!(text.lines().any(|l| l.starts_with(&format!("{last} = "))), "deploy/isms.toml lacks {key} ({env})");
    }
    let checked = config_check(&[path.to_str().unwrap()], &[]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let printed = String::from_utf8_lossy(&checked.stdout);
    assert!(printed.contains("the configuration is valid") && printed.contains("every_events = 10000"), "{printed}");
}

#[test]
fn config_check_rejects_a_bad_file_naming_each_key_and_serve_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "bind = \"127.0.0.1:8080\"\nwokers = 2\n[checkpoint]\nevery_events = \"often\"\n").unwrap();
    let checked = config_check(&[bad.to_str().unwrap()], &[("ISMS_VERIFY_INTERVAL_SECS", "-5")]);
    assert_eq!(checked.status.code(), Some(isms::exit_code::USAGE));
    let errors = String::from_utf8_lossy(&checked.stderr);
    assert!(errors.contains("key `wokers`: unknown key"), "{errors}");
    assert!(errors.contains("key `checkpoint.every_events`: expected an integer, found a string"), "{errors}");
    assert!(errors.contains("environment variable ISMS_VERIFY_INTERVAL_SECS"), "{errors}");

    // ISMS_CONFIG names the file when --config is not given; serve refuses before opening anything.
    let data = dir.path().join("data");
    let serve = Command::new(BIN).args(["serve", "--data-dir"]).arg(&data).env("ISMS_CONFIG", &bad).output().unwrap();
    assert_eq!(serve.status.code(), Some(isms::exit_code::USAGE));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("wokers"));
    assert!(!data.exists(), "nothing was created");

    let missing = config_check(&["/nonexistent/isms.toml"], &[]);
    assert_eq!(missing.status.code(), Some(isms::exit_code::USAGE));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/isms.toml: cannot read"));
}

#[test]
fn token_reads_the_data_directory_and_issuer_from_the_same_configuration_as_serve() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("isms.toml");
    let data = dir.path().join("data");
    std::fs::write(&file, format!("data_dir = {:?}\n[jwt]\nissuer = \"corp-idp\"\n", data.to_str().unwrap())).unwrap();
    let minted = Command::new(BIN)
        .args(["token", "--sub", "alice", "--tenant", "acme", "--config", file.to_str().unwrap()])
        .env("ISMS_JWT_AUDIENCE", "ledger-prod")
        .output()
        .unwrap();
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
    let token = String::from_utf8(minted.stdout).unwrap();
    let payload = token.trim().split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some("corp-idp"), Some("ledger-prod")));
    assert!(isms::secret::path(&data).exists(), "the secret is in the configured data directory");
}
