//! The ISO/IEC 27001 Annex A control catalogs (2022 and 2013) as static data.
//!
//! The catalogs are fixed by the published standards, so they are compiled in rather than
//! loaded: no I/O, no parsing at runtime, and a typo in an id is caught by the tests below
//! instead of in production. A Statement of Applicability, a risk treatment plan or a gap
//! analysis can then refer to a control by its id and always find the same title.
//!
//! The correspondence between the editions (ISO/IEC 27002:2022 Annex B, Table B.1) is stored
//! once, on the 2022 side ([`Control2022::iso27001_2013`]); the 2013 → 2022 direction is
//! derived by [`iso27001_2022_for_2013`]. Keeping a single copy means the two directions can
//! never disagree.

use serde::{Deserialize, Serialize};

/// The catalogs this module knows, by the name used in the API and in stored references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CatalogId {
    /// ISO/IEC 27001:2022 Annex A: 93 controls in four themes.
    #[serde(rename = "iso27001-2022")]
    Iso27001_2022,
    /// ISO/IEC 27001:2013 Annex A: 114 controls in 14 clauses (A.5 to A.18), still met in
    /// older Statements of Applicability and audit reports.
    #[serde(rename = "iso27001-2013")]
    Iso27001_2013,
}

impl CatalogId {
    /// The accepted names, in the order of the variants; used to list valid values in errors
    /// and schemas.
    pub const NAMES: &'static [&'static str] = &["iso27001-2022", "iso27001-2013"];

    /// Parses a catalog name as written in [`CatalogId::NAMES`]; `None` for anything else so
    /// the caller decides how to report it.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "iso27001-2022" => Some(Self::Iso27001_2022),
            "iso27001-2013" => Some(Self::Iso27001_2013),
            _ => None,
        }
    }

    /// The stable name of the catalog (the inverse of [`CatalogId::parse`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iso27001_2022 => "iso27001-2022",
            Self::Iso27001_2013 => "iso27001-2013",
        }
    }

    /// How many controls the catalog holds, so callers can size listings without matching on
    /// the variant.
    pub fn len(self) -> usize {
        match self {
            Self::Iso27001_2022 => ISO27001_2022.len(),
            Self::Iso27001_2013 => ISO27001_2013.len(),
        }
    }

    /// Always `false`: every catalog has controls. Present because `len` is.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Whether `id` names a control of this catalog (with or without the "A." prefix).
    pub fn contains(self, id: &str) -> bool {
        match self {
            Self::Iso27001_2022 => control_2022(id).is_some(),
            Self::Iso27001_2013 => control_2013(id).is_some(),
        }
    }
}

impl std::fmt::Display for CatalogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four control themes of ISO/IEC 27001:2022 Annex A (clauses 5 to 8 of ISO/IEC 27002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Clause 5, controls 5.1 to 5.37.
    Organizational,
    /// Clause 6, controls 6.1 to 6.8.
    People,
    /// Clause 7, controls 7.1 to 7.14.
    Physical,
    /// Clause 8, controls 8.1 to 8.34.
    Technological,
}

impl Theme {
    /// The serialized names, in the order of the standard's clauses.
    pub const NAMES: &'static [&'static str] = &["organizational", "people", "physical", "technological"];

    /// The serialized name (same as serde's), for query parameters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organizational => "organizational",
            Self::People => "people",
            Self::Physical => "physical",
            Self::Technological => "technological",
        }
    }

    /// Parses a name from [`Theme::NAMES`]; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "organizational" => Some(Self::Organizational),
            "people" => Some(Self::People),
            "physical" => Some(Self::Physical),
            "technological" => Some(Self::Technological),
            _ => None,
        }
    }
}

/// One control of ISO/IEC 27001:2022 Annex A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control2022 {
    /// The control number without the "A." prefix, e.g. "5.1" (as ISO/IEC 27002 numbers it).
    pub id: &'static str,
    /// The official short title from Table A.1.
    pub title: &'static str,
    pub theme: Theme,
    /// The ISO/IEC 27001:2013 controls this one corresponds to (ISO/IEC 27002:2022 Table B.1),
    /// e.g. "A.5.1.1". Empty for the 11 controls new in 2022.
    pub iso27001_2013: &'static [&'static str],
}

/// One control of ISO/IEC 27001:2013 Annex A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control2013 {
    /// The control number with its "A." prefix, e.g. "A.9.4.2", as the 2013 standard wrote it.
    pub id: &'static str,
    /// The official short title from Table A.1.
    pub title: &'static str,
    /// The clause (the 2013 edition's grouping), e.g. "A.9".
    pub clause: &'static str,
    /// The clause's title, e.g. "Access control".
    pub clause_title: &'static str,
}

impl Control2013 {
    /// The clause as one label, e.g. "A.9 Access control": the 2013 counterpart of a 2022
    /// [`Theme`], for grouping in listings.
    pub fn theme(&self) -> String {
        format!("{} {}", self.clause, self.clause_title)
    }
}

/// Whether a 2022 control has no 2013 counterpart, i.e. is one of the 11 controls the 2022
/// edition introduced (a gap analysis from a 2013 SoA must look at these first).
pub fn is_new_in_2022(c: &Control2022) -> bool {
    c.iso27001_2013.is_empty()
}

/// The 2022 control with this id ("8.24", "A.8.24" and " 8.24 " all match).
pub fn control_2022(id: &str) -> Option<&'static Control2022> {
    let id = without_annex_prefix(id);
    ISO27001_2022.iter().find(|c| c.id == id)
}

/// The 2013 control with this id ("A.9.4.2" and "9.4.2" both match, surrounding blanks are
/// ignored): people often drop the prefix when quoting the old numbering.
pub fn control_2013(id: &str) -> Option<&'static Control2013> {
    let id = without_annex_prefix(id);
    ISO27001_2013.iter().find(|c| without_annex_prefix(c.id) == id)
}

/// The 2022 controls a 2013 control corresponds to, in catalog order (the inverse of
/// [`Control2022::iso27001_2013`]). Accepts the id with or without "A."; an unknown id gives
/// an empty list. Usually one control; A.18.2.3 maps to two (5.36 and 8.8).
pub fn iso27001_2022_for_2013(id2013: &str) -> Vec<&'static str> {
    let Some(old) = control_2013(id2013) else {
        return Vec::new();
    };
    ISO27001_2022.iter().filter(|c| c.iso27001_2013.contains(&old.id)).map(|c| c.id).collect()
}

fn without_annex_prefix(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix("A.").or_else(|| id.strip_prefix("a.")).unwrap_or(id)
}

const fn org(id: &'static str, title: &'static str, iso27001_2013: &'static [&'static str]) -> Control2022 {
    Control2022 { id, title, theme: Theme::Organizational, iso27001_2013 }
}
const fn people(id: &'static str, title: &'static str, iso27001_2013: &'static [&'static str]) -> Control2022 {
    Control2022 { id, title, theme: Theme::People, iso27001_2013 }
}
const fn physical(id: &'static str, title: &'static str, iso27001_2013: &'static [&'static str]) -> Control2022 {
    Control2022 { id, title, theme: Theme::Physical, iso27001_2013 }
}
const fn tech(id: &'static str, title: &'static str, iso27001_2013: &'static [&'static str]) -> Control2022 {
    Control2022 { id, title, theme: Theme::Technological, iso27001_2013 }
}

/// ISO/IEC 27001:2022 Annex A, in the standard's order, with the ISO/IEC 27002:2022 Table B.1
/// correspondence to the 2013 controls.
pub static ISO27001_2022: [Control2022; 93] = [
    org("5.1", "Policies for information security", &["A.5.1.1", "A.5.1.2"]),
    org("5.2", "Information security roles and responsibilities", &["A.6.1.1"]),
    org("5.3", "Segregation of duties", &["A.6.1.2"]),
    org("5.4", "Management responsibilities", &["A.7.2.1"]),
    org("5.5", "Contact with authorities", &["A.6.1.3"]),
    org("5.6", "Contact with special interest groups", &["A.6.1.4"]),
    org("5.7", "Threat intelligence", &[]),
    org("5.8", "Information security in project management", &["A.6.1.5", "A.14.1.1"]),
    org("5.9", "Inventory of information and other associated assets", &["A.8.1.1", "A.8.1.2"]),
    org("5.10", "Acceptable use of information and other associated assets", &["A.8.1.3", "A.8.2.3"]),
    org("5.11", "Return of assets", &["A.8.1.4"]),
    org("5.12", "Classification of information", &["A.8.2.1"]),
    org("5.13", "Labelling of information", &["A.8.2.2"]),
    org("5.14", "Information transfer", &["A.13.2.1", "A.13.2.2", "A.13.2.3"]),
    org("5.15", "Access control", &["A.9.1.1", "A.9.1.2"]),
    org("5.16", "Identity management", &["A.9.2.1"]),
    org("5.17", "Authentication information", &["A.9.2.4", "A.9.3.1", "A.9.4.3"]),
    org("5.18", "Access rights", &["A.9.2.2", "A.9.2.5", "A.9.2.6"]),
    org("5.19", "Information security in supplier relationships", &["A.15.1.1"]),
    org("5.20", "Addressing information security within supplier agreements", &["A.15.1.2"]),
    org(
        "5.21",
        "Managing information security in the information and communication technology (ICT) supply chain",
        &["A.15.1.3"],
    ),
    org("5.22", "Monitoring, review and change management of supplier services", &["A.15.2.1", "A.15.2.2"]),
    org("5.23", "Information security for use of cloud services", &[]),
    org("5.24", "Information security incident management planning and preparation", &["A.16.1.1"]),
    org("5.25", "Assessment and decision on information security events", &["A.16.1.4"]),
    org("5.26", "Response to information security incidents", &["A.16.1.5"]),
    org("5.27", "Learning from information security incidents", &["A.16.1.6"]),
    org("5.28", "Collection of evidence", &["A.16.1.7"]),
    org("5.29", "Information security during disruption", &["A.17.1.1", "A.17.1.2", "A.17.1.3"]),
    org("5.30", "ICT readiness for business continuity", &[]),
    org("5.31", "Legal, statutory, regulatory and contractual requirements", &["A.18.1.1", "A.18.1.5"]),
    org("5.32", "Intellectual property rights", &["A.18.1.2"]),
    org("5.33", "Protection of records", &["A.18.1.3"]),
    org("5.34", "Privacy and protection of personal identifiable information (PII)", &["A.18.1.4"]),
    org("5.35", "Independent review of information security", &["A.18.2.1"]),
    org("5.36", "Compliance with policies, rules and standards for information security", &["A.18.2.2", "A.18.2.3"]),
    org("5.37", "Documented operating procedures", &["A.12.1.1"]),
    people("6.1", "Screening", &["A.7.1.1"]),
    people("6.2", "Terms and conditions of employment", &["A.7.1.2"]),
    people("6.3", "Information security awareness, education and training", &["A.7.2.2"]),
    people("6.4", "Disciplinary process", &["A.7.2.3"]),
    people("6.5", "Responsibilities after termination or change of employment", &["A.7.3.1"]),
    people("6.6", "Confidentiality or non-disclosure agreements", &["A.13.2.4"]),
    people("6.7", "Remote working", &["A.6.2.2"]),
    people("6.8", "Information security event reporting", &["A.16.1.2", "A.16.1.3"]),
    physical("7.1", "Physical security perimeters", &["A.11.1.1"]),
    physical("7.2", "Physical entry", &["A.11.1.2", "A.11.1.6"]),
    physical("7.3", "Securing offices, rooms and facilities", &["A.11.1.3"]),
    physical("7.4", "Physical security monitoring", &[]),
    physical("7.5", "Protecting against physical and environmental threats", &["A.11.1.4"]),
    physical("7.6", "Working in secure areas", &["A.11.1.5"]),
    physical("7.7", "Clear desk and clear screen", &["A.11.2.9"]),
    physical("7.8", "Equipment siting and protection", &["A.11.2.1"]),
    physical("7.9", "Security of assets off-premises", &["A.11.2.6"]),
    physical("7.10", "Storage media", &["A.8.3.1", "A.8.3.2", "A.8.3.3", "A.11.2.5"]),
    physical("7.11", "Supporting utilities", &["A.11.2.2"]),
    physical("7.12", "Cabling security", &["A.11.2.3"]),
    physical("7.13", "Equipment maintenance", &["A.11.2.4"]),
    physical("7.14", "Secure disposal or re-use of equipment", &["A.11.2.7"]),
    tech("8.1", "User end point devices", &["A.6.2.1", "A.11.2.8"]),
    tech("8.2", "Privileged access rights", &["A.9.2.3"]),
    tech("8.3", "Information access restriction", &["A.9.4.1"]),
    tech("8.4", "Access to source code", &["A.9.4.5"]),
    tech("8.5", "Secure authentication", &["A.9.4.2"]),
    tech("8.6", "Capacity management", &["A.12.1.3"]),
    tech("8.7", "Protection against malware", &["A.12.2.1"]),
    tech("8.8", "Management of technical vulnerabilities", &["A.12.6.1", "A.18.2.3"]),
    tech("8.9", "Configuration management", &[]),
    tech("8.10", "Information deletion", &[]),
    tech("8.11", "Data masking", &[]),
    tech("8.12", "Data leakage prevention", &[]),
    tech("8.13", "Information backup", &["A.12.3.1"]),
    tech("8.14", "Redundancy of information processing facilities", &["A.17.2.1"]),
    tech("8.15", "Logging", &["A.12.4.1", "A.12.4.2", "A.12.4.3"]),
    tech("8.16", "Monitoring activities", &[]),
    tech("8.17", "Clock synchronization", &["A.12.4.4"]),
    tech("8.18", "Use of privileged utility programs", &["A.9.4.4"]),
    tech("8.19", "Installation of software on operational systems", &["A.12.5.1", "A.12.6.2"]),
    tech("8.20", "Networks security", &["A.13.1.1"]),
    tech("8.21", "Security of network services", &["A.13.1.2"]),
    tech("8.22", "Segregation of networks", &["A.13.1.3"]),
    tech("8.23", "Web filtering", &[]),
    tech("8.24", "Use of cryptography", &["A.10.1.1", "A.10.1.2"]),
    tech("8.25", "Secure development life cycle", &["A.14.2.1"]),
    tech("8.26", "Application security requirements", &["A.14.1.2", "A.14.1.3"]),
    tech("8.27", "Secure system architecture and engineering principles", &["A.14.2.5"]),
    tech("8.28", "Secure coding", &[]),
    tech("8.29", "Security testing in development and acceptance", &["A.14.2.8", "A.14.2.9"]),
    tech("8.30", "Outsourced development", &["A.14.2.7"]),
    tech("8.31", "Separation of development, test and production environments", &["A.12.1.4", "A.14.2.6"]),
    tech("8.32", "Change management", &["A.12.1.2", "A.14.2.2", "A.14.2.3", "A.14.2.4"]),
    tech("8.33", "Test information", &["A.14.3.1"]),
    tech("8.34", "Protection of information systems during audit testing", &["A.12.7.1"]),
];

/// A clause of ISO/IEC 27001:2013 Annex A (the grouping that the 2022 themes replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clause2013 {
    /// E.g. "A.9".
    pub id: &'static str,
    /// E.g. "Access control".
    pub title: &'static str,
}

const A5: Clause2013 = Clause2013 { id: "A.5", title: "Information security policies" };
const A6: Clause2013 = Clause2013 { id: "A.6", title: "Organization of information security" };
const A7: Clause2013 = Clause2013 { id: "A.7", title: "Human resource security" };
const A8: Clause2013 = Clause2013 { id: "A.8", title: "Asset management" };
const A9: Clause2013 = Clause2013 { id: "A.9", title: "Access control" };
const A10: Clause2013 = Clause2013 { id: "A.10", title: "Cryptography" };
const A11: Clause2013 = Clause2013 { id: "A.11", title: "Physical and environmental security" };
const A12: Clause2013 = Clause2013 { id: "A.12", title: "Operations security" };
const A13: Clause2013 = Clause2013 { id: "A.13", title: "Communications security" };
const A14: Clause2013 = Clause2013 { id: "A.14", title: "System acquisition, development and maintenance" };
const A15: Clause2013 = Clause2013 { id: "A.15", title: "Supplier relationships" };
const A16: Clause2013 = Clause2013 { id: "A.16", title: "Information security incident management" };
const A17: Clause2013 =
    Clause2013 { id: "A.17", title: "Information security aspects of business continuity management" };
const A18: Clause2013 = Clause2013 { id: "A.18", title: "Compliance" };

/// The 14 clauses of ISO/IEC 27001:2013 Annex A, in order.
pub static ISO27001_2013_CLAUSES: [Clause2013; 14] = [A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17, A18];

const fn c13(clause: Clause2013, id: &'static str, title: &'static str) -> Control2013 {
    Control2013 { id, title, clause: clause.id, clause_title: clause.title }
}

/// ISO/IEC 27001:2013 Annex A, in the standard's order.
pub static ISO27001_2013: [Control2013; 114] = [
    c13(A5, "A.5.1.1", "Policies for information security"),
    c13(A5, "A.5.1.2", "Review of the policies for information security"),
    c13(A6, "A.6.1.1", "Information security roles and responsibilities"),
    c13(A6, "A.6.1.2", "Segregation of duties"),
    c13(A6, "A.6.1.3", "Contact with authorities"),
    c13(A6, "A.6.1.4", "Contact with special interest groups"),
    c13(A6, "A.6.1.5", "Information security in project management"),
    c13(A6, "A.6.2.1", "Mobile device policy"),
    c13(A6, "A.6.2.2", "Teleworking"),
    c13(A7, "A.7.1.1", "Screening"),
    c13(A7, "A.7.1.2", "Terms and conditions of employment"),
    c13(A7, "A.7.2.1", "Management responsibilities"),
    c13(A7, "A.7.2.2", "Information security awareness, education and training"),
    c13(A7, "A.7.2.3", "Disciplinary process"),
    c13(A7, "A.7.3.1", "Termination or change of employment responsibilities"),
    c13(A8, "A.8.1.1", "Inventory of assets"),
    c13(A8, "A.8.1.2", "Ownership of assets"),
    c13(A8, "A.8.1.3", "Acceptable use of assets"),
    c13(A8, "A.8.1.4", "Return of assets"),
    c13(A8, "A.8.2.1", "Classification of information"),
    c13(A8, "A.8.2.2", "Labelling of information"),
    c13(A8, "A.8.2.3", "Handling of assets"),
    c13(A8, "A.8.3.1", "Management of removable media"),
    c13(A8, "A.8.3.2", "Disposal of media"),
    c13(A8, "A.8.3.3", "Physical media transfer"),
    c13(A9, "A.9.1.1", "Access control policy"),
    c13(A9, "A.9.1.2", "Access to networks and network services"),
    c13(A9, "A.9.2.1", "User registration and de-registration"),
    c13(A9, "A.9.2.2", "User access provisioning"),
    c13(A9, "A.9.2.3", "Management of privileged access rights"),
    c13(A9, "A.9.2.4", "Management of secret authentication information of users"),
    c13(A9, "A.9.2.5", "Review of user access rights"),
    c13(A9, "A.9.2.6", "Removal or adjustment of access rights"),
    c13(A9, "A.9.3.1", "Use of secret authentication information"),
    c13(A9, "A.9.4.1", "Information access restriction"),
    c13(A9, "A.9.4.2", "Secure log-on procedures"),
    c13(A9, "A.9.4.3", "Password management system"),
    c13(A9, "A.9.4.4", "Use of privileged utility programs"),
    c13(A9, "A.9.4.5", "Access control to program source code"),
    c13(A10, "A.10.1.1", "Policy on the use of cryptographic controls"),
    c13(A10, "A.10.1.2", "Key management"),
    c13(A11, "A.11.1.1", "Physical security perimeter"),
    c13(A11, "A.11.1.2", "Physical entry controls"),
    c13(A11, "A.11.1.3", "Securing offices, rooms and facilities"),
    c13(A11, "A.11.1.4", "Protecting against external and environmental threats"),
    c13(A11, "A.11.1.5", "Working in secure areas"),
    c13(A11, "A.11.1.6", "Delivery and loading areas"),
    c13(A11, "A.11.2.1", "Equipment siting and protection"),
    c13(A11, "A.11.2.2", "Supporting utilities"),
    c13(A11, "A.11.2.3", "Cabling security"),
    c13(A11, "A.11.2.4", "Equipment maintenance"),
    c13(A11, "A.11.2.5", "Removal of assets"),
    c13(A11, "A.11.2.6", "Security of equipment and assets off-premises"),
    c13(A11, "A.11.2.7", "Secure disposal or re-use of equipment"),
    c13(A11, "A.11.2.8", "Unattended user equipment"),
    c13(A11, "A.11.2.9", "Clear desk and clear screen policy"),
    c13(A12, "A.12.1.1", "Documented operating procedures"),
    c13(A12, "A.12.1.2", "Change management"),
    c13(A12, "A.12.1.3", "Capacity management"),
    c13(A12, "A.12.1.4", "Separation of development, testing and operational environments"),
    c13(A12, "A.12.2.1", "Controls against malware"),
    c13(A12, "A.12.3.1", "Information backup"),
    c13(A12, "A.12.4.1", "Event logging"),
    c13(A12, "A.12.4.2", "Protection of log information"),
    c13(A12, "A.12.4.3", "Administrator and operator logs"),
    c13(A12, "A.12.4.4", "Clock synchronisation"),
    c13(A12, "A.12.5.1", "Installation of software on operational systems"),
    c13(A12, "A.12.6.1", "Management of technical vulnerabilities"),
    c13(A12, "A.12.6.2", "Restrictions on software installation"),
    c13(A12, "A.12.7.1", "Information systems audit controls"),
    c13(A13, "A.13.1.1", "Network controls"),
    c13(A13, "A.13.1.2", "Security of network services"),
    c13(A13, "A.13.1.3", "Segregation in networks"),
    c13(A13, "A.13.2.1", "Information transfer policies and procedures"),
    c13(A13, "A.13.2.2", "Agreements on information transfer"),
    c13(A13, "A.13.2.3", "Electronic messaging"),
    c13(A13, "A.13.2.4", "Confidentiality or nondisclosure agreements"),
    c13(A14, "A.14.1.1", "Information security requirements analysis and specification"),
    c13(A14, "A.14.1.2", "Securing application services on public networks"),
    c13(A14, "A.14.1.3", "Protecting application services transactions"),
    c13(A14, "A.14.2.1", "Secure development policy"),
    c13(A14, "A.14.2.2", "System change control procedures"),
    c13(A14, "A.14.2.3", "Technical review of applications after operating platform changes"),
    c13(A14, "A.14.2.4", "Restrictions on changes to software packages"),
    c13(A14, "A.14.2.5", "Secure system engineering principles"),
    c13(A14, "A.14.2.6", "Secure development environment"),
    c13(A14, "A.14.2.7", "Outsourced development"),
    c13(A14, "A.14.2.8", "System security testing"),
    c13(A14, "A.14.2.9", "System acceptance testing"),
    c13(A14, "A.14.3.1", "Protection of test data"),
    c13(A15, "A.15.1.1", "Information security policy for supplier relationships"),
    c13(A15, "A.15.1.2", "Addressing security within supplier agreements"),
    c13(A15, "A.15.1.3", "Information and communication technology supply chain"),
    c13(A15, "A.15.2.1", "Monitoring and review of supplier services"),
    c13(A15, "A.15.2.2", "Managing changes to supplier services"),
    c13(A16, "A.16.1.1", "Responsibilities and procedures"),
    c13(A16, "A.16.1.2", "Reporting information security events"),
    c13(A16, "A.16.1.3", "Reporting information security weaknesses"),
    c13(A16, "A.16.1.4", "Assessment of and decision on information security events"),
    c13(A16, "A.16.1.5", "Response to information security incidents"),
    c13(A16, "A.16.1.6", "Learning from information security incidents"),
    c13(A16, "A.16.1.7", "Collection of evidence"),
    c13(A17, "A.17.1.1", "Planning information security continuity"),
    c13(A17, "A.17.1.2", "Implementing information security continuity"),
    c13(A17, "A.17.1.3", "Verify, review and evaluate information security continuity"),
    c13(A17, "A.17.2.1", "Availability of information processing facilities"),
    c13(A18, "A.18.1.1", "Identification of applicable legislation and contractual requirements"),
    c13(A18, "A.18.1.2", "Intellectual property rights"),
    c13(A18, "A.18.1.3", "Protection of records"),
    c13(A18, "A.18.1.4", "Privacy and protection of personally identifiable information"),
    c13(A18, "A.18.1.5", "Regulation of cryptographic controls"),
    c13(A18, "A.18.2.1", "Independent review of information security"),
    c13(A18, "A.18.2.2", "Compliance with security policies and standards"),
    c13(A18, "A.18.2.3", "Technical compliance review"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// "A.12.4.1" -> [12, 4, 1]; "8.24" -> [8, 24]: numeric order, unlike string order.
    fn numbers(id: &str) -> Vec<u32> {
        without_annex_prefix(id).split('.').map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn catalog_2022_has_93_controls_in_four_themes() {
        assert_eq!(ISO27001_2022.len(), 93);
        let count = |theme| ISO27001_2022.iter().filter(|c| c.theme == theme).count();
        assert_eq!(count(Theme::Organizational), 37);
        assert_eq!(count(Theme::People), 8);
        assert_eq!(count(Theme::Physical), 14);
        assert_eq!(count(Theme::Technological), 34);
        for c in &ISO27001_2022 {
            let clause = match c.theme {
                Theme::Organizational => 5,
                Theme::People => 6,
                Theme::Physical => 7,
                Theme::Technological => 8,
            };
            assert_eq!(numbers(c.id)[0], clause, "{} is in the wrong theme", c.id);
        }
    }

    #[test]
    fn catalog_2022_ids_are_unique_consecutive_and_unprefixed() {
        let mut previous: Option<Vec<u32>> = None;
        for c in &ISO27001_2022 {
            assert!(!c.id.starts_with("A."), "{}", c.id);
            assert!(!c.title.is_empty() && c.title.trim() == c.title, "{}", c.id);
            let n = numbers(c.id);
            assert_eq!(n.len(), 2, "{}", c.id);
            match previous {
                Some(p) if p[0] == n[0] => assert_eq!(n[1], p[1] + 1, "{} does not follow {p:?}", c.id),
                Some(p) => assert_eq!((n[0], n[1]), (p[0] + 1, 1), "{} does not follow {p:?}", c.id),
                None => assert_eq!(n, [5, 1]),
            }
            previous = Some(n);
        }
        let ids: HashSet<_> = ISO27001_2022.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 93);
    }

    #[test]
    fn catalog_2013_has_114_controls_with_the_clause_counts_of_the_standard() {
        assert_eq!(ISO27001_2013.len(), 114);
        let expected = [
            ("A.5", 2),
            ("A.6", 7),
            ("A.7", 6),
            ("A.8", 10),
            ("A.9", 14),
            ("A.10", 2),
            ("A.11", 15),
            ("A.12", 14),
            ("A.13", 7),
            ("A.14", 13),
            ("A.15", 5),
            ("A.16", 7),
            ("A.17", 4),
            ("A.18", 8),
        ];
        assert_eq!(ISO27001_2013_CLAUSES.iter().map(|c| c.id).collect::<Vec<_>>(), expected.map(|(id, _)| id));
        for (clause, count) in expected {
            assert_eq!(ISO27001_2013.iter().filter(|c| c.clause == clause).count(), count, "{clause}");
        }
        for c in &ISO27001_2013 {
            assert!(c.id.starts_with(&format!("{}.", c.clause)), "{} is not in {}", c.id, c.clause);
            let clause = ISO27001_2013_CLAUSES.iter().find(|k| k.id == c.clause).unwrap();
            assert_eq!(c.clause_title, clause.title, "{}", c.id);
        }
    }

    #[test]
    fn catalog_2013_ids_are_unique_ordered_and_prefixed() {
        for pair in ISO27001_2013.windows(2) {
            assert!(numbers(pair[0].id) < numbers(pair[1].id), "{} before {}", pair[0].id, pair[1].id);
        }
        for c in &ISO27001_2013 {
            assert!(c.id.starts_with("A."), "{}", c.id);
            assert_eq!(numbers(c.id).len(), 3, "{}", c.id);
            assert!(!c.title.is_empty() && c.title.trim() == c.title, "{}", c.id);
        }
        let ids: HashSet<_> = ISO27001_2013.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 114);
    }

    #[test]
    fn exactly_the_eleven_new_controls_have_no_2013_counterpart() {
        let new: Vec<_> = ISO27001_2022.iter().filter(|c| is_new_in_2022(c)).map(|c| c.id).collect();
        assert_eq!(new, ["5.7", "5.23", "5.30", "7.4", "8.9", "8.10", "8.11", "8.12", "8.16", "8.23", "8.28"]);
    }

    #[test]
    fn every_referenced_2013_id_exists_and_is_listed_once_per_control() {
        for c in &ISO27001_2022 {
            let unique: HashSet<_> = c.iso27001_2013.iter().collect();
            assert_eq!(unique.len(), c.iso27001_2013.len(), "{} lists a 2013 id twice", c.id);
            for old in c.iso27001_2013 {
                let found = control_2013(old).unwrap_or_else(|| panic!("{} refers to unknown {old}", c.id));
                assert_eq!(found.id, *old, "{} must use the canonical 2013 id", c.id);
            }
        }
    }

    #[test]
    fn every_2013_control_maps_to_at_least_one_2022_control() {
        for c in &ISO27001_2013 {
            assert!(!iso27001_2022_for_2013(c.id).is_empty(), "{} has no 2022 counterpart", c.id);
        }
        // Table B.1 splits only one 2013 control across two 2022 controls.
        let split: Vec<_> = ISO27001_2013.iter().filter(|c| iso27001_2022_for_2013(c.id).len() > 1).collect();
        assert_eq!(split.iter().map(|c| c.id).collect::<Vec<_>>(), ["A.18.2.3"]);
    }

    #[test]
    fn lookups_accept_ids_with_or_without_the_annex_prefix() {
        assert_eq!(control_2022("8.24").unwrap().title, "Use of cryptography");
        assert_eq!(control_2022("A.8.24").unwrap().id, "8.24");
        assert_eq!(control_2022(" a.5.7 ").unwrap().title, "Threat intelligence");
        assert!(control_2022("8.35").is_none());
        assert!(control_2022("").is_none());
        assert!(control_2022("8.2.4").is_none());

        assert_eq!(control_2013("A.9.4.2").unwrap().title, "Secure log-on procedures");
        assert_eq!(control_2013("9.4.2").unwrap().id, "A.9.4.2");
        assert_eq!(control_2013(" A.9.4.2 ").unwrap().id, "A.9.4.2");
        assert!(control_2013("A.9.4.6").is_none());
        assert!(control_2013("A.A.9.4.2").is_none());

        assert_eq!(iso27001_2022_for_2013("10.1.2"), ["8.24"]);
        assert!(iso27001_2022_for_2013("A.19.1.1").is_empty());
    }

    #[test]
    fn spot_checks_of_titles() {
        let title22 = |id| control_2022(id).unwrap().title;
        assert_eq!(title22("5.1"), "Policies for information security");
        assert_eq!(title22("5.37"), "Documented operating procedures");
        assert_eq!(title22("6.8"), "Information security event reporting");
        assert_eq!(title22("7.14"), "Secure disposal or re-use of equipment");
        assert_eq!(title22("8.34"), "Protection of information systems during audit testing");
        let title13 = |id| control_2013(id).unwrap().title;
        assert_eq!(title13("A.5.1.1"), "Policies for information security");
        assert_eq!(title13("A.12.4.4"), "Clock synchronisation");
        assert_eq!(title13("A.18.2.3"), "Technical compliance review");
        let a942 = control_2013("A.9.4.2").unwrap();
        assert_eq!((a942.clause, a942.clause_title), ("A.9", "Access control"));
        assert_eq!(a942.theme(), "A.9 Access control");
    }

    #[test]
    fn spot_checks_of_the_correspondence_both_ways() {
        assert_eq!(control_2022("8.24").unwrap().iso27001_2013, ["A.10.1.1", "A.10.1.2"]);
        assert_eq!(control_2022("5.1").unwrap().iso27001_2013, ["A.5.1.1", "A.5.1.2"]);
        let expected = [
            ("A.5.1.1", &["5.1"][..]),
            ("A.5.1.2", &["5.1"]),
            ("A.6.1.1", &["5.2"]),
            ("A.6.1.2", &["5.3"]),
            ("A.6.1.5", &["5.8"]),
            ("A.8.1.1", &["5.9"]),
            ("A.8.1.2", &["5.9"]),
            ("A.8.1.3", &["5.10"]),
            ("A.8.2.3", &["5.10"]),
            ("A.9.4.2", &["8.5"]),
            ("A.10.1.1", &["8.24"]),
            ("A.10.1.2", &["8.24"]),
            ("A.11.2.9", &["7.7"]),
            ("A.12.1.2", &["8.32"]),
            ("A.12.4.1", &["8.15"]),
            ("A.12.4.2", &["8.15"]),
            ("A.12.4.3", &["8.15"]),
            ("A.12.4.4", &["8.17"]),
            ("A.12.6.2", &["8.19"]),
            ("A.14.2.2", &["8.32"]),
            ("A.14.2.3", &["8.32"]),
            ("A.14.2.4", &["8.32"]),
            ("A.16.1.2", &["6.8"]),
            ("A.16.1.3", &["6.8"]),
            ("A.18.1.3", &["5.33"]),
            ("A.18.2.3", &["5.36", "8.8"]),
        ];
        for (old, new) in expected {
            assert_eq!(iso27001_2022_for_2013(old), new, "{old}");
        }
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for name in CatalogId::NAMES {
            let id = CatalogId::parse(name).unwrap();
            assert_eq!(id.as_str(), *name);
            assert_eq!(serde_json::to_value(id).unwrap(), *name);
        }
        assert_eq!(CatalogId::parse("iso27001"), None);
        assert_eq!(CatalogId::Iso27001_2022.len(), 93);
        assert_eq!(CatalogId::Iso27001_2013.len(), 114);
        assert!(CatalogId::Iso27001_2022.contains("A.8.24"));
        assert!(!CatalogId::Iso27001_2022.contains("A.10.1.1"));
        assert!(CatalogId::Iso27001_2013.contains("A.10.1.1"));

        for name in Theme::NAMES {
            let theme = Theme::parse(name).unwrap();
            assert_eq!(theme.as_str(), *name);
            assert_eq!(serde_json::to_value(theme).unwrap(), *name);
        }
        let json = serde_json::to_value(control_2022("5.7").unwrap()).unwrap();
        let expected = serde_json::json!({
            "id": "5.7",
            "title": "Threat intelligence",
            "theme": "organizational",
            "iso27001_2013": [],
        });
        assert_eq!(json, expected);
    }
}
