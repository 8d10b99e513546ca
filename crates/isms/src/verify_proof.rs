//! `isms verify-proof`: an auditor's offline check, with nothing but the JSON the API served and
//! the public key, that a later checkpoint extends one they stored earlier (no event changed or
//! removed), and that given events are in a checkpoint's log.

use std::path::{Path, PathBuf};

use isms_store::checkpoint::{key_id, SignedCheckpoint};
use isms_store::proofs::{
    parse_public_key, verify_consistency, verify_inclusion, verify_signature, ConsistencyProof, InclusionProof,
    ProofError,
};
use serde::de::DeserializeOwned;

use isms::exit_code;

#[derive(clap::Args)]
pub struct Args {
    /// The Ed25519 public key: the JSON of `GET /api/v1/public-key`, its `public_key_pem`, or its
    /// base64 `public_key`.
    #[arg(long)]
    public_key: PathBuf,
    /// The later checkpoint, as the API served it.
    #[arg(long, visible_alias = "checkpoint")]
    new: PathBuf,
    /// The checkpoint stored earlier; with --proof, checks that --new extends it.
    #[arg(long, requires = "proof")]
    old: Option<PathBuf>,
    /// The consistency proof from --old to --new (`GET /api/v1/proofs/consistency`).
    #[arg(long, requires = "old")]
    proof: Option<PathBuf>,
    /// An inclusion proof (`GET /api/v1/proofs/inclusion`), checked against --new or --old,
    /// whichever is at its `checkpoint` position. May be repeated.
    #[arg(long)]
    inclusion: Vec<PathBuf>,
}

enum Failure {
    /// An input file cannot be read or parsed.
    Input(String),
    /// Something did not verify.
    Verification(String),
}

fn failed(error: ProofError, file: &Path) -> Failure {
    Failure::Verification(format!("{error} ({})", file.display()))
}

fn read_text(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Input(format!("cannot read the {what} {}: {e}", path.display())))
}

fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, Failure> {
    serde_json::from_str(&read_text(path, what)?)
        .map_err(|e| Failure::Input(format!("the {what} {} is not one the API serves: {e}", path.display())))
}

pub fn run(args: &Args) -> i32 {
    match check(args) {
        Ok(()) => 0,
        Err(Failure::Input(message)) => {
            eprintln!("error: {message}");
            exit_code::USAGE
        }
        Err(Failure::Verification(message)) => {
            eprintln!("FAILED: {message}");
            1
        }
    }
}

fn describe(checkpoint: &SignedCheckpoint) -> String {
    let body = &checkpoint.body;
    format!(
        "tenant {}, position {}, merkle_root {}, recorded at {}",
        body.tenant,
        body.position,
        body.merkle_root,
        body.recorded_at.to_rfc3339()
    )
}

fn check(args: &Args) -> Result<(), Failure> {
    let key = parse_public_key(&read_text(&args.public_key, "public key")?)
        .map_err(|e| Failure::Input(format!("the public key {}: {e}", args.public_key.display())))?;
    let new: SignedCheckpoint = read_json(&args.new, "new checkpoint")?;
    let old: Option<SignedCheckpoint> = args.old.as_deref().map(|p| read_json(p, "old checkpoint")).transpose()?;
    let proof: Option<ConsistencyProof> =
        args.proof.as_deref().map(|p| read_json(p, "consistency proof")).transpose()?;
    let inclusions = args
        .inclusion
        .iter()
        .map(|p| Ok((p, read_json::<InclusionProof>(p, "inclusion proof")?)))
        .collect::<Result<Vec<_>, Failure>>()?;

    println!("public key {}", key_id(&key));
    if let (Some(old), Some(path)) = (&old, &args.old) {
        verify_signature("old", old, &key).map_err(|e| failed(e, path))?;
        println!("ok: signature of the old checkpoint ({})", describe(old));
    }
    verify_signature("new", &new, &key).map_err(|e| failed(e, &args.new))?;
    println!("ok: signature of the new checkpoint ({})", describe(&new));
    if let (Some(old), Some(proof), Some(path)) = (&old, &proof, &args.proof) {
        verify_consistency(old, &new, proof).map_err(|e| failed(e, path))?;
        println!(
            "ok: consistency: the log at position {} extends the log at position {} (events 1 to {} unchanged, none removed)",
            new.body.position, old.body.position, old.body.position
        );
    }
    for (path, inclusion) in &inclusions {
        let checkpoint = [Some(&new), old.as_ref()]
            .into_iter()
            .flatten()
            .find(|c| c.body.position == inclusion.checkpoint)
            .ok_or_else(|| {
                let positions = [Some(&new), old.as_ref()].into_iter().flatten().map(|c| c.body.position.to_string());
                let error = ProofError::Sizes(format!(
                    "the inclusion proof is for the checkpoint at {}, the checkpoints given are at {}",
                    inclusion.checkpoint,
                    positions.collect::<Vec<_>>().join(" and ")
                ));
                failed(error, path)
            })?;
        verify_inclusion(checkpoint, inclusion).map_err(|e| failed(e, path))?;
        println!(
            "ok: inclusion: the event at position {} (hash {}) is in the log of the checkpoint at {}",
            inclusion.position, inclusion.event_hash, inclusion.checkpoint
        );
    }
    println!("verified");
    Ok(())
}
