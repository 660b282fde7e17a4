//! Virtual MFA devices: `CreateVirtualMFADevice` (seed as Base32 and as a QR code PNG),
//! `EnableMFADevice`, `DeactivateMFADevice`, `ResyncMFADevice`, `DeleteVirtualMFADevice`,
//! `ListMFADevices`, `ListVirtualMFADevices`, `GetMFADevice`, tags, and the TOTP check STS uses.
//!
//! Codes are TOTP (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits. The seed is 40 random bytes,
//! sealed at rest; it leaves the server once, in the `CreateVirtualMFADevice` response.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use tessera_store::{ReadTxn, StoreError, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{
    already_exists, authorize_with, delete_conflict, limit_exceeded, load_user, merge_tags, no_such_entity,
    no_such_user, optional_user_name, parse_tag_keys, parse_tags, read, remove_tags, request_tag_context,
    resolve_subject, respond, split_iam_arn, tags_page, write, write_tags, write_user, StoreResultExt, Subject,
};
use crate::clock::iso8601;
use crate::model::{self, table, Account, Tag, User};
use crate::validate::{self, Checks, Page};
use crate::{Call, Services};

/// [`MfaDevice`] by `<acct>/<lower path+name>` (the serial number's resource part).
pub const MFA_DEVICE: &str = "iam_mfa_device";
/// Devices enabled for a user: key `<acct>/<lower user>/<lower path+name>`, value the serial.
pub const USER_MFA_DEVICE: &str = "iam_user_mfa_device";

/// Devices enabled for the account's root user: key `<acct>/<lower path+name>`, value the
/// serial. A table of its own, so no IAM user name can collide with the root user.
pub const ROOT_MFA_DEVICE: &str = "iam_root_mfa_device";

/// Most MFA devices a user (or the root user) may have enabled.
pub const MFA_DEVICES_PER_USER: u64 = 8;
/// Most virtual MFA devices (assigned or not) in an account: the users quota.
pub const VIRTUAL_MFA_DEVICES_PER_ACCOUNT: u64 = 5000;
/// TOTP step (seconds).
pub const TOTP_STEP: i64 = 30;
/// How far `ResyncMFADevice` looks for the device's clock (steps either side).
const RESYNC_WINDOW: i64 = 20;
/// Bytes of seed.
const SEED_BYTES: usize = 40;

/// A virtual MFA device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaDevice {
    /// Account id.
    pub account: String,
    /// Path (`/` by default).
    pub path: String,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created: i64,
    /// The Base32 seed, sealed under [`MfaDevice::seal_context`].
    pub seed_sealed: String,
    /// The user it is enabled for, and since when.
    #[serde(default)]
    pub user: Option<String>,
    /// Enabled for the account's root user (then `user` is `None`). Records written before
    /// root devices existed read as `false`.
    #[serde(default)]
    pub root: bool,
    /// When it was enabled.
    #[serde(default)]
    pub enabled: Option<i64>,
    /// Clock drift of the device in steps, learnt by `ResyncMFADevice`.
    #[serde(default)]
    pub drift_steps: i64,
    /// The last step whose code was accepted (a code is accepted once).
    #[serde(default)]
    pub last_step: i64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl MfaDevice {
    /// The serial number: `arn:aws:iam::<acct>:mfa<path><name>`.
    pub fn serial(&self) -> String {
        format!("arn:aws:iam::{}:mfa{}{}", self.account, self.path, self.name)
    }
    /// The context the seed is sealed under.
    pub fn seal_context(account: &str, path: &str, name: &str) -> String {
        format!("mfa/{account}{}{}", path.to_ascii_lowercase(), name.to_ascii_lowercase())
    }
    fn key(&self) -> String {
        device_key(&self.account, &format!("{}{}", self.path, self.name))
    }
    /// Enabled for a user or for the root user.
    pub fn assigned(&self) -> bool {
        self.user.is_some() || self.root
    }
}

/// Who a device is enabled for.
enum Owner {
    User(String),
    Root,
}

fn device_key(account: &str, path_and_name: &str) -> String {
    format!("{account}/{}", path_and_name.to_ascii_lowercase())
}

/// The key prefix of `user_name`'s rows in [`USER_MFA_DEVICE`].
pub fn user_prefix(account: &str, user_name: &str) -> String {
    format!("{account}/{}/", user_name.to_ascii_lowercase())
}

fn user_device_key(account: &str, user: &str, device: &MfaDevice) -> String {
    format!("{}{}{}", user_prefix(account, user), device.path.to_ascii_lowercase(), device.name.to_ascii_lowercase())
}

/// The device behind a serial number (`arn:aws:iam::<acct>:mfa/<path><name>`), if it exists.
pub fn load_device(r: &(impl ReadTxn + ?Sized), serial: &str) -> Result<Option<MfaDevice>, StoreError> {
    match split_iam_arn(serial, "mfa") {
        Some((account, rest)) if rest.starts_with('/') => model::load(r, MFA_DEVICE, &device_key(account, rest)),
        _ => Ok(None),
    }
}

/// Who an MFA device is enabled for: `(account, user name)`; `None` when the device does not
/// exist or is not enabled. STS checks this against the caller before [`verify_token`].
pub fn mfa_device_owner(services: &Services, serial_number: &str) -> Result<Option<(String, String)>, AwsError> {
    let device = read(services, |r| load_device(r, serial_number).ise())?;
    Ok(device.and_then(|d| d.user.map(|u| (d.account, u))))
}

/// Whether `serial_number` is a device enabled for the root user of `account` (what a root
/// caller may present as its MFA).
pub fn is_root_device(services: &Services, serial_number: &str, account: &str) -> Result<bool, AwsError> {
    let device = read(services, |r| load_device(r, serial_number).ise())?;
    Ok(device.is_some_and(|d| d.root && d.account == account))
}

// ---------------------------------------------------------------------------------------------
// TOTP.

/// RFC 4648 Base32 (upper case, no padding).
pub fn base32_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decode RFC 4648 Base32 (case-insensitive, padding ignored).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for c in text.trim_end_matches('=').chars() {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The HOTP value (RFC 4226) of `key` at `counter`, with `digits` digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let code = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    code % 10u32.pow(digits)
}

/// The 6-digit TOTP code of `key` for time step `step` (`unix time / 30`).
pub fn totp_code(key: &[u8], step: i64) -> String {
    format!("{:06}", hotp(key, u64::try_from(step).unwrap_or(0), 6))
}

/// The step of a time.
pub fn step_of(now_secs: i64) -> i64 {
    now_secs.div_euclid(TOTP_STEP)
}

/// The first step in `steps` whose code is `code` (compared in constant time).
fn matching_step(key: &[u8], code: &str, steps: impl Iterator<Item = i64>) -> Option<i64> {
    let mut found = None;
    for step in steps {
        let expected = totp_code(key, step);
        let same = expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            && expected.len() == code.len();
        if same && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn seed_of(services: &Services, device: &MfaDevice) -> Result<Vec<u8>, AwsError> {
    let sealed = services
        .secrets
        .open(&MfaDevice::seal_context(&device.account, &device.path, &device.name), &device.seed_sealed)
        .ise()?;
    let text = String::from_utf8(sealed).map_err(|_| AwsError::internal())?;
    base32_decode(&text).ok_or_else(AwsError::internal)
}

/// See [`super::verify_mfa_token`].
pub fn verify_token(services: &Services, serial: &str, code: &str, now_secs: i64) -> Result<bool, AwsError> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    let Some(device) = read(services, |r| load_device(r, serial).ise())? else {
        return Ok(false);
    };
    if !device.assigned() {
        return Ok(false);
    }
    let key = seed_of(services, &device)?;
    let center = step_of(now_secs) + device.drift_steps;
    let Some(step) = matching_step(&key, code, center - 1..=center + 1) else {
        return Ok(false);
    };
    if step <= device.last_step {
        return Ok(false);
    }
    // The step is spent for every server sharing the store: the record's `last_step` is compared
    // and set in one transaction, so of two calls with one code (on one node or two) only the
    // first to commit is accepted.
    let serial_key = device.key();
    write(services, |txn| {
        let Some(mut current) = model::load::<MfaDevice>(txn, MFA_DEVICE, &serial_key).ise()? else {
            return Ok(false);
        };
        if !current.assigned() || step <= current.last_step {
            return Ok(false);
        }
        current.last_step = step;
        model::save(txn, MFA_DEVICE, &serial_key, &current).ise()?;
        Ok(true)
    })
}

// ---------------------------------------------------------------------------------------------
// QR code.

/// `otpauth://totp/<device name>@<alias or account id>?secret=<seed>`, as AWS documents it.
pub fn otpauth_uri(device_name: &str, account_label: &str, seed_base32: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    format!(
        "otpauth://totp/{}@{}?secret={}",
        utf8_percent_encode(device_name, NON_ALPHANUMERIC),
        utf8_percent_encode(account_label, NON_ALPHANUMERIC),
        seed_base32
    )
}

/// A PNG image (8-bit grayscale) of the QR code of `data`: 4 pixels a module, 4-module margin.
pub fn qr_png(data: &str) -> Result<Vec<u8>, AwsError> {
    const SCALE: usize = 4;
    const MARGIN: usize = 4;
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M).map_err(|e| {
        tracing::error!(error = %e, "QR encoding failed");
        AwsError::internal()
    })?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * MARGIN) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % modules + MARGIN, i / modules + MARGIN);
            for dy in 0..SCALE {
                let row = (my * SCALE + dy) * side;
                pixels[row + mx * SCALE..row + mx * SCALE + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let png_err = |e: png::EncodingError| {
        tracing::error!(error = %e, "PNG encoding failed");
        AwsError::internal()
    };
    {
        let side32 = u32::try_from(side).map_err(|_| AwsError::internal())?;
        let mut enc = png::Encoder::new(&mut out, side32, side32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(&pixels).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Operations.

fn no_such_device(serial: &str) -> AwsError {
    no_such_entity(format!("VirtualMFADevice with serial number {serial} doesn't exist."))
}

fn serial_param(params: &QueryParams) -> Result<&str, AwsError> {
    let serial = params.required("SerialNumber")?;
    Checks::new()
        .length("serialNumber", serial, 9, 256)
        .pattern("serialNumber", serial, r"[\w+=/:,.@-]+", |s| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c))
        })
        .finish()?;
    Ok(serial)
}

fn auth_code(params: &QueryParams, name: &str) -> Result<String, AwsError> {
    let code = params.required(name)?;
    let field = super::lower_first(name);
    Checks::new()
        .length(&field, code, 6, 6)
        .pattern(&field, code, r"[\d]+", |s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .finish()?;
    Ok(code.to_string())
}

fn invalid_code() -> AwsError {
    AwsError::new(403, "InvalidAuthenticationCode", "Authentication code for device is not valid.")
}

/// The resource ARN AWS authorizes MFA device operations on, whether or not it exists.
fn device_resource(call: &Call, serial: &str) -> String {
    if serial.starts_with("arn:") {
        serial.to_string()
    } else {
        format!("arn:aws:iam::{}:mfa/{serial}", call.caller.account)
    }
}

/// Load a device of the caller's account, for an operation on the device itself.
fn own_device(
    services: &Services,
    call: &Call,
    serial: &str,
    action: &str,
    context: Vec<(String, Vec<String>)>,
) -> Result<MfaDevice, AwsError> {
    let device = read(services, |r| load_device(r, serial).ise())?.filter(|d| d.account == call.caller.account);
    match device {
        Some(d) => {
            authorize_with(services, call, action, &d.serial(), &d.tags, context)?;
            Ok(d)
        }
        None => {
            services.authorize_request(
                call,
                &crate::authz::AuthzRequest {
                    action,
                    resource: &device_resource(call, serial),
                    context,
                    ..Default::default()
                },
            )?;
            Err(no_such_device(serial))
        }
    }
}

/// `CreateVirtualMFADevice`.
pub fn create_virtual_mfa_device(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let name = params.required("VirtualMFADeviceName")?;
    let path = params.get("Path").unwrap_or("/");
    Checks::new()
        .length("virtualMFADeviceName", name, 1, 226)
        .pattern("virtualMFADeviceName", name, validate::NAME_PATTERN, validate::is_name)
        .length("path", path, 1, 512)
        .pattern("path", path, validate::PATH_PATTERN, validate::is_path)
        .finish()?;
    let tags = parse_tags(params)?;
    let account = call.caller.account.clone();
    let serial = format!("arn:aws:iam::{account}:mfa{path}{name}");
    super::authorize_with(services, call, "iam:CreateVirtualMFADevice", &serial, &[], request_tag_context(&tags))?;

    let mut seed = [0u8; SEED_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let seed_b32 = base32_encode(&seed);
    let device = MfaDevice {
        account: account.clone(),
        path: path.to_string(),
        name: name.to_string(),
        created: call.now_secs(),
        seed_sealed: services.secrets.seal(&MfaDevice::seal_context(&account, path, name), seed_b32.as_bytes()),
        user: None,
        root: false,
        enabled: None,
        drift_steps: 0,
        last_step: 0,
        tags: tags.clone(),
    };
    let label = write(services, |txn| {
        if model::load::<MfaDevice>(txn, MFA_DEVICE, &device.key()).ise()?.is_some() {
            return Err(already_exists("MFADevice entity at the same path and name already exists."));
        }
        if txn.count(MFA_DEVICE, &format!("{account}/")).ise()? >= VIRTUAL_MFA_DEVICES_PER_ACCOUNT {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for VirtualMFADevicesPerAccount: {VIRTUAL_MFA_DEVICES_PER_ACCOUNT}"
            )));
        }
        model::save(txn, MFA_DEVICE, &device.key(), &device).ise()?;
        let acct: Option<Account> = model::load(txn, table::ACCOUNT, &account).ise()?;
        Ok(acct.and_then(|a| a.alias).unwrap_or_else(|| account.clone()))
    })?;
    let png = qr_png(&otpauth_uri(name, &label, &seed_b32))?;
    let mut w = XmlWriter::fragment();
    w.open("VirtualMFADevice", None);
    w.elem("SerialNumber", &serial)
        .elem("Base32StringSeed", &B64.encode(seed_b32.as_bytes()))
        .elem("QRCodePNG", &B64.encode(&png));
    if !tags.is_empty() {
        write_tags(&mut w, &tags);
    }
    w.close();
    respond(call, Some(w.finish()))
}

/// A user named by a required `UserName`, authorized for `action`.
fn named_user(services: &Services, call: &Call, params: &QueryParams, action: &str) -> Result<Box<User>, AwsError> {
    let name = super::required_user_name(params, 128)?;
    match resolve_subject(services, call, Some(name), action, false)? {
        Subject::User(u) => Ok(u),
        Subject::Root => Err(super::must_specify_user_name()),
    }
}

/// `EnableMFADevice`: assign a virtual device to a user, proven by two consecutive codes.
pub fn enable_mfa_device(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    let code1 = auth_code(params, "AuthenticationCode1")?;
    let code2 = auth_code(params, "AuthenticationCode2")?;
    let user = named_user(services, call, params, "iam:EnableMFADevice")?;
    enable_device(services, call, serial, &code1, &code2, Owner::User(user.name))?;
    respond(call, None)
}

/// Enable a virtual device for the account's root user, proven by two consecutive codes: what
/// AWS's console does when the root user assigns its MFA device (IAM User Guide, "Enable a
/// virtual MFA device for the root user (console)"). The IAM API has no such call
/// (`EnableMFADevice` requires a user name), so only the console, signed in as root, calls it.
/// Authorized as `iam:EnableMFADevice` on the root user's ARN.
pub fn enable_root_mfa_device(
    services: &Services,
    call: &Call,
    serial: &str,
    code1: &str,
    code2: &str,
) -> Result<WireResponse, AwsError> {
    if !matches!(call.caller.kind, crate::CallerKind::Root) {
        return Err(AwsError::access_denied("Only the root user can assign an MFA device to the root user."));
    }
    let account = call.caller.account.as_str();
    services.authorize(call, "iam:EnableMFADevice", &format!("arn:aws:iam::{account}:root"))?;
    for code in [code1, code2] {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_code());
        }
    }
    enable_device(services, call, serial, code1, code2, Owner::Root)?;
    respond(call, None)
}

/// Check two consecutive codes of `serial` and enable it for `owner`, in one transaction.
fn enable_device(
    services: &Services,
    call: &Call,
    serial: &str,
    code1: &str,
    code2: &str,
    owner: Owner,
) -> Result<(), AwsError> {
    let account = call.caller.account.as_str();
    let device = read(services, |r| load_device(r, serial).ise())?
        .filter(|d| d.account == account)
        .ok_or_else(|| no_such_device(serial))?;
    let key = seed_of(services, &device)?;
    // Code 2 is of the current step (or one either side); code 1 of the step before it.
    let now = call.now_secs();
    let cur = step_of(now) + device.drift_steps;
    let step2 = (cur - 1..=cur + 1)
        .find(|s| matching_step(&key, code2, std::iter::once(*s)).is_some() && totp_code(&key, s - 1) == code1)
        .ok_or_else(invalid_code)?;
    write(services, |txn| {
        let (index, index_key) = match &owner {
            Owner::User(name) => {
                let user = load_user(txn, account, name)?.ok_or_else(|| no_such_user(name))?;
                (USER_MFA_DEVICE, user_prefix(account, &user.name))
            }
            Owner::Root => (ROOT_MFA_DEVICE, format!("{account}/")),
        };
        let mut device: MfaDevice =
            model::load(txn, MFA_DEVICE, &device.key()).ise()?.ok_or_else(|| no_such_device(serial))?;
        if device.assigned() {
            return Err(already_exists("MFA Device is already in use."));
        }
        if txn.count(index, &index_key).ise()? >= MFA_DEVICES_PER_USER {
            return Err(limit_exceeded(format!("Cannot exceed quota for MFADevicesPerUser: {MFA_DEVICES_PER_USER}")));
        }
        if step2 <= device.last_step {
            return Err(invalid_code());
        }
        match &owner {
            Owner::User(name) => device.user = Some(name.clone()),
            Owner::Root => device.root = true,
        }
        device.enabled = Some(now);
        device.last_step = step2;
        model::save(txn, MFA_DEVICE, &device.key(), &device).ise()?;
        let row = format!("{index_key}{}{}", device.path.to_ascii_lowercase(), device.name.to_ascii_lowercase());
        txn.put(index, &row, device.serial().as_bytes()).ise()
    })
}

/// The root user's device `serial`, or AWS's NoSuchEntity.
fn roots_device(txn: &dyn ReadTxn, account: &str, serial: &str) -> Result<MfaDevice, AwsError> {
    match load_device(txn, serial).ise()?.filter(|d| d.account == account) {
        Some(d) if d.root => Ok(d),
        Some(_) => Err(no_such_entity(format!("MFA Device with serial number {serial} not found for the root user."))),
        None => Err(no_such_device(serial)),
    }
}

fn root_device_key(account: &str, device: &MfaDevice) -> String {
    format!("{account}/{}{}", device.path.to_ascii_lowercase(), device.name.to_ascii_lowercase())
}

/// The devices enabled for the account's root user.
pub fn root_devices(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<Vec<MfaDevice>, StoreError> {
    let rows = r.scan(ROOT_MFA_DEVICE, &format!("{account}/"), None, usize::MAX)?;
    let mut out = Vec::new();
    for (_, serial) in rows {
        if let Some(d) = load_device(r, &String::from_utf8_lossy(&serial))? {
            if d.root {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// The device `serial`, enabled for `user_name`, or AWS's NoSuchEntity.
fn users_device(txn: &dyn ReadTxn, account: &str, user_name: &str, serial: &str) -> Result<MfaDevice, AwsError> {
    let device = load_device(txn, serial).ise()?.filter(|d| d.account == account);
    match device {
        Some(d) if d.user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(user_name)) => Ok(d),
        Some(_) => {
            Err(no_such_entity(format!("MFA Device with serial number {serial} not found for user {user_name}.")))
        }
        None => Err(no_such_device(serial)),
    }
}

/// `DeactivateMFADevice`: unassign a device from its user (the device itself remains).
pub fn deactivate_mfa_device(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    let user_name = optional_user_name(params, "UserName")?;
    let subject = resolve_subject(services, call, user_name, "iam:DeactivateMFADevice", true)?;
    let account = call.caller.account.as_str();
    let Subject::User(user) = subject else {
        // The root user's own device (the parameter's documentation: without a user name it
        // "defaults to the principal making the request").
        write(services, |txn| {
            let mut device = roots_device(txn, account, serial)?;
            txn.delete(ROOT_MFA_DEVICE, &root_device_key(account, &device)).ise()?;
            device.root = false;
            device.enabled = None;
            model::save(txn, MFA_DEVICE, &device.key(), &device).ise()
        })?;
        return respond(call, None);
    };
    write(services, |txn| {
        let mut device = users_device(txn, account, &user.name, serial)?;
        txn.delete(USER_MFA_DEVICE, &user_device_key(account, &user.name, &device)).ise()?;
        device.user = None;
        device.enabled = None;
        model::save(txn, MFA_DEVICE, &device.key(), &device).ise()
    })?;
    respond(call, None)
}

/// `ResyncMFADevice`: learn the device's clock drift from two consecutive codes.
pub fn resync_mfa_device(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    let code1 = auth_code(params, "AuthenticationCode1")?;
    let code2 = auth_code(params, "AuthenticationCode2")?;
    let user = named_user(services, call, params, "iam:ResyncMFADevice")?;
    let account = call.caller.account.as_str();
    let device = read(services, |r| users_device(r, account, &user.name, serial))?;
    let key = seed_of(services, &device)?;
    let cur = step_of(call.now_secs());
    let step2 = (cur - RESYNC_WINDOW..=cur + RESYNC_WINDOW)
        .find(|s| totp_code(&key, *s) == code2 && totp_code(&key, s - 1) == code1)
        .ok_or_else(invalid_code)?;
    write(services, |txn| {
        let mut device = users_device(txn, account, &user.name, serial)?;
        device.drift_steps = step2 - cur;
        device.last_step = device.last_step.max(step2);
        model::save(txn, MFA_DEVICE, &device.key(), &device).ise()
    })?;
    respond(call, None)
}

/// `DeleteVirtualMFADevice`: only when no user has it enabled.
pub fn delete_virtual_mfa_device(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    let device = own_device(services, call, serial, "iam:DeleteVirtualMFADevice", Vec::new())?;
    write(services, |txn| {
        let current: MfaDevice =
            model::load(txn, MFA_DEVICE, &device.key()).ise()?.ok_or_else(|| no_such_device(serial))?;
        if current.assigned() {
            return Err(delete_conflict("MFA Device is still in use"));
        }
        txn.delete(MFA_DEVICE, &device.key()).ise()?;
        Ok(())
    })?;
    respond(call, None)
}

fn devices_of(r: &(impl ReadTxn + ?Sized), account: &str, user: &str) -> Result<Vec<MfaDevice>, AwsError> {
    let rows = r.scan(USER_MFA_DEVICE, &user_prefix(account, user), None, usize::MAX).ise()?;
    let mut out = Vec::new();
    for (_, serial) in rows {
        if let Some(d) = load_device(r, &String::from_utf8_lossy(&serial)).ise()? {
            out.push(d);
        }
    }
    Ok(out)
}

/// `ListMFADevices`: the devices enabled for `UserName` (or the caller).
pub fn list_mfa_devices(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let page = Page::from_params(params)?;
    let subject = resolve_subject(services, call, user_name, "iam:ListMFADevices", true)?;
    let account = call.caller.account.as_str();
    let devices = match &subject {
        Subject::User(u) => read(services, |r| devices_of(r, account, &u.name))?,
        Subject::Root => read(services, |r| root_devices(r, account).ise())?,
    };
    let (devices, next) = page.apply(devices, |d| d.key());
    let mut w = XmlWriter::fragment();
    w.open("MFADevices", None);
    for d in &devices {
        w.open("member", None);
        // `UserName` is required in `MFADevice`; a root device has none, so the account id
        // stands for the root user (as `UserId` does in `ListVirtualMFADevices`).
        w.elem("UserName", d.user.as_deref().unwrap_or(account))
            .elem("SerialNumber", &d.serial())
            .elem("EnableDate", &iso8601(d.enabled.unwrap_or(d.created)));
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    respond(call, Some(w.finish()))
}

/// `ListVirtualMFADevices`: the account's virtual devices, by `AssignmentStatus`.
pub fn list_virtual_mfa_devices(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let status = params.get("AssignmentStatus").unwrap_or("Any");
    if !matches!(status, "Assigned" | "Unassigned" | "Any") {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{status}' at 'assignmentStatus' failed to satisfy constraint: Member must satisfy enum value set: [Any, Assigned, Unassigned]"
        )));
    }
    let page = Page::from_params(params)?;
    services.authorize(call, "iam:ListVirtualMFADevices", "*")?;
    let account = call.caller.account.as_str();
    let devices = read(services, |r| {
        let rows = r.scan(MFA_DEVICE, &format!("{account}/"), None, usize::MAX).ise()?;
        let devices: Vec<MfaDevice> = model::decode_rows(MFA_DEVICE, rows).ise()?.into_iter().map(|(_, d)| d).collect();
        let devices: Vec<MfaDevice> = devices
            .into_iter()
            .filter(|d| match status {
                "Assigned" => d.assigned(),
                "Unassigned" => !d.assigned(),
                _ => true,
            })
            .collect();
        let (devices, next) = page.apply(devices, |d| d.key());
        let acct: Option<Account> = model::load(r, table::ACCOUNT, account).ise()?;
        let mut with_users = Vec::with_capacity(devices.len());
        for d in devices {
            let user = match &d.user {
                Some(u) => load_user(r, account, u)?,
                None => None,
            };
            with_users.push((d, user));
        }
        Ok((with_users, next, acct.map_or(0, |a| a.created)))
    })?;
    let (devices, next, account_created) = devices;
    let mut w = XmlWriter::fragment();
    w.open("VirtualMFADevices", None);
    for (d, user) in &devices {
        w.open("member", None);
        w.elem("SerialNumber", &d.serial());
        if let Some(u) = user {
            write_user(&mut w, "User", u);
        } else if d.root {
            // The root user, as AWS's API reference example shows it: the account id as
            // `UserId`, the root ARN, the account's creation date.
            w.open("User", None);
            w.elem("UserId", account)
                .elem("Arn", &format!("arn:aws:iam::{account}:root"))
                .elem("CreateDate", &iso8601(account_created));
            w.close();
        }
        if let Some(t) = d.enabled {
            w.elem("EnableDate", &iso8601(t));
        }
        if !d.tags.is_empty() {
            write_tags(&mut w, &d.tags);
        }
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    respond(call, Some(w.finish()))
}

/// `GetMFADevice`: one device of a user.
pub fn get_mfa_device(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    let name = params.get("UserName");
    Checks::new()
        .length_opt("userName", name, 1, 64)
        .pattern_opt("userName", name, validate::NAME_PATTERN, validate::is_name)
        .finish()?;
    let subject = resolve_subject(services, call, name, "iam:GetMFADevice", true)?;
    let account = call.caller.account.as_str();
    let Subject::User(user) = subject else {
        // The root user's own device: no `UserName` (it is optional in the response).
        let device = read(services, |r| roots_device(r, account, serial))?;
        let mut w = XmlWriter::fragment();
        w.elem("SerialNumber", &device.serial());
        if let Some(t) = device.enabled {
            w.elem("EnableDate", &iso8601(t));
        }
        return respond(call, Some(w.finish()));
    };
    let device = read(services, |r| users_device(r, account, &user.name, serial))?;
    let mut w = XmlWriter::fragment();
    w.elem("UserName", &user.name).elem("SerialNumber", &device.serial());
    if let Some(t) = device.enabled {
        w.elem("EnableDate", &iso8601(t));
    }
    respond(call, Some(w.finish()))
}

/// `TagMFADevice`.
pub fn tag_mfa_device(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    if !params.has_list("Tags") {
        return Err(tessera_wire::query::null_member("Tags"));
    }
    let tags = parse_tags(params)?;
    let device = own_device(services, call, serial, "iam:TagMFADevice", request_tag_context(&tags))?;
    write(services, |txn| {
        let mut d: MfaDevice =
            model::load(txn, MFA_DEVICE, &device.key()).ise()?.ok_or_else(|| no_such_device(serial))?;
        merge_tags(&mut d.tags, tags)?;
        model::save(txn, MFA_DEVICE, &d.key(), &d).ise()
    })?;
    respond(call, None)
}

/// `UntagMFADevice`.
pub fn untag_mfa_device(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    let keys = parse_tag_keys(params)?;
    let ctx = vec![("aws:TagKeys".to_string(), keys.clone())];
    let device = own_device(services, call, serial, "iam:UntagMFADevice", ctx)?;
    write(services, |txn| {
        let mut d: MfaDevice =
            model::load(txn, MFA_DEVICE, &device.key()).ise()?.ok_or_else(|| no_such_device(serial))?;
        remove_tags(&mut d.tags, &keys);
        model::save(txn, MFA_DEVICE, &d.key(), &d).ise()
    })?;
    respond(call, None)
}

/// `ListMFADeviceTags`.
pub fn list_mfa_device_tags(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let serial = serial_param(params)?;
    Page::from_params(params)?;
    let device = own_device(services, call, serial, "iam:ListMFADeviceTags", Vec::new())?;
    respond(call, Some(tags_page(params, &device.tags)?))
}

/// Move a user's devices to its new name.
pub(crate) fn rename_user(
    txn: &mut dyn WriteTxn,
    account: &str,
    old_name: &str,
    new_name: &str,
) -> Result<(), StoreError> {
    let rows = txn.scan(USER_MFA_DEVICE, &user_prefix(account, old_name), None, usize::MAX)?;
    for (k, serial) in rows {
        txn.delete(USER_MFA_DEVICE, &k)?;
        let serial = String::from_utf8_lossy(&serial).into_owned();
        if let Some(mut d) = load_device(txn, &serial)? {
            d.user = Some(new_name.to_string());
            model::save(txn, MFA_DEVICE, &d.key(), &d)?;
            txn.put(USER_MFA_DEVICE, &user_device_key(account, new_name, &d), serial.as_bytes())?;
        }
    }
    Ok(())
}

/// Whether the account's root user has an MFA device enabled.
pub fn root_mfa_enabled(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<bool, StoreError> {
    Ok(r.count(ROOT_MFA_DEVICE, &format!("{account}/"))? > 0)
}

/// Virtual MFA devices of an account: (all, enabled).
pub(crate) fn count_devices(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<(u64, u64), StoreError> {
    let all = r.count(MFA_DEVICE, &format!("{account}/"))?;
    let in_use =
        r.count(USER_MFA_DEVICE, &format!("{account}/"))? + r.count(ROOT_MFA_DEVICE, &format!("{account}/"))?;
    Ok((all, in_use))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn run(services: &Services, call: &Call, p: &[(&str, &str)]) -> Result<String, AwsError> {
        let r = super::super::handle(services, call, &params(p)).expect("handled")?;
        Ok(body(&r))
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA1 key "12345678901234567890"; the 6 low digits of the 8-digit values.
        let key = b"12345678901234567890";
        for (t, expected) in [
            (59i64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp_code(key, step_of(t)), expected, "t={t}");
        }
        assert_eq!(hotp(key, 1, 8), 94_287_082);
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi").unwrap(), b"foobar");
        assert!(base32_decode("M1").is_none());
        let seed: Vec<u8> = (0..40).collect();
        assert_eq!(base32_encode(&seed).len(), 64);
        assert_eq!(base32_decode(&base32_encode(&seed)).unwrap(), seed);
    }

    #[test]
    fn qr_code_is_a_png() {
        let png = qr_png(&otpauth_uri("dev", "123456789012", &"A".repeat(64))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert!(info.width >= 29 * 4);
    }

    fn seed_from(created_xml: &str) -> Vec<u8> {
        let b64 = elem(created_xml, "Base32StringSeed").unwrap();
        let b32 = String::from_utf8(B64.decode(b64).unwrap()).unwrap();
        assert_eq!(b32.len(), 64);
        base32_decode(&b32).unwrap()
    }

    #[test]
    fn create_enable_verify_deactivate_delete() {
        let t0 = 1_700_000_000;
        let s = services_at(t0);
        put_user(&s, "alice");
        let created =
            run(&s, &root_call("CreateVirtualMFADevice", t0), &[("VirtualMFADeviceName", "alice-phone")]).unwrap();
        let serial = elem(&created, "SerialNumber").unwrap();
        assert_eq!(serial, format!("arn:aws:iam::{ACCOUNT}:mfa/alice-phone"));
        let png = B64.decode(elem(&created, "QRCodePNG").unwrap()).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        let key = seed_from(&created);
        // Sealed at rest.
        let stored = read(&s, |r| load_device(r, &serial).ise()).unwrap().unwrap();
        assert!(stored.seed_sealed.starts_with("v1:"));
        assert!(!stored.seed_sealed.contains(&base32_encode(&key)));

        let e =
            run(&s, &root_call("CreateVirtualMFADevice", t0), &[("VirtualMFADeviceName", "ALICE-phone")]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("EntityAlreadyExists", 409));

        // Not verified before it is enabled.
        let now = t0 + 95;
        let cur = step_of(now);
        assert!(!verify_token(&s, &serial, &totp_code(&key, cur), now).unwrap());

        let enable = |c1: &str, c2: &str| {
            run(
                &s,
                &root_call("EnableMFADevice", now),
                &[
                    ("UserName", "alice"),
                    ("SerialNumber", &serial),
                    ("AuthenticationCode1", c1),
                    ("AuthenticationCode2", c2),
                ],
            )
        };
        let e = enable(&totp_code(&key, cur), &totp_code(&key, cur - 1)).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("InvalidAuthenticationCode", 403));
        let e = enable("000000", "000001").unwrap_err();
        assert_eq!(e.code, "InvalidAuthenticationCode");
        enable(&totp_code(&key, cur - 1), &totp_code(&key, cur)).unwrap();
        let e = enable(&totp_code(&key, cur - 1), &totp_code(&key, cur)).unwrap_err();
        assert_eq!(e.code, "EntityAlreadyExists");

        // The codes used to enable are spent; the next step's code verifies once.
        assert!(!verify_token(&s, &serial, &totp_code(&key, cur), now).unwrap());
        assert!(verify_token(&s, &serial, &totp_code(&key, cur + 1), now + 30).unwrap());
        assert!(!verify_token(&s, &serial, &totp_code(&key, cur + 1), now + 30).unwrap(), "reuse");
        assert!(!verify_token(&s, &serial, &totp_code(&key, cur + 5), now + 30).unwrap(), "too far ahead");
        assert!(!verify_token(&s, &serial, "12345", now).unwrap());
        assert!(!verify_token(&s, "arn:aws:iam::123456789012:mfa/none", "123456", now).unwrap());
        assert_eq!(mfa_device_owner(&s, &serial).unwrap(), Some((ACCOUNT.to_string(), "alice".to_string())));

        let listed = run(&s, &root_call("ListMFADevices", now), &[("UserName", "alice")]).unwrap();
        assert_eq!(elem(&listed, "SerialNumber").as_deref(), Some(serial.as_str()));
        let e = run(&s, &user_call("ListMFADevices", "alice", now), &[]).unwrap_err();
        assert!(e.message.contains("iam:ListMFADevices on resource: arn:aws:iam::123456789012:user/alice because no identity-based policy allows"));
        let virt = run(&s, &root_call("ListVirtualMFADevices", now), &[("AssignmentStatus", "Assigned")]).unwrap();
        assert!(virt.contains("<User>") && virt.contains("<UserName>alice</UserName>"));
        assert!(!virt.contains("Base32StringSeed"));
        let virt = run(&s, &root_call("ListVirtualMFADevices", now), &[("AssignmentStatus", "Unassigned")]).unwrap();
        assert!(!virt.contains("<member>"));
        assert!(super::super::user_delete_conflict(s.store.read().unwrap().as_ref(), ACCOUNT, "alice")
            .unwrap()
            .is_some());

        let e = run(&s, &root_call("DeleteVirtualMFADevice", now), &[("SerialNumber", &serial)]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("DeleteConflict", 409));

        // Resync learns a drift of +3 steps.
        let later = now + 300;
        let dev_step = step_of(later) + 3;
        run(
            &s,
            &root_call("ResyncMFADevice", later),
            &[
                ("UserName", "alice"),
                ("SerialNumber", &serial),
                ("AuthenticationCode1", &totp_code(&key, dev_step - 1)),
                ("AuthenticationCode2", &totp_code(&key, dev_step)),
            ],
        )
        .unwrap();
        assert!(verify_token(&s, &serial, &totp_code(&key, dev_step + 1), later + 30).unwrap());

        run(&s, &root_call("DeactivateMFADevice", later), &[("UserName", "alice"), ("SerialNumber", &serial)]).unwrap();
        assert!(!verify_token(&s, &serial, &totp_code(&key, dev_step + 2), later + 60).unwrap());
        let e = run(&s, &root_call("DeactivateMFADevice", later), &[("UserName", "alice"), ("SerialNumber", &serial)])
            .unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        run(&s, &root_call("DeleteVirtualMFADevice", later), &[("SerialNumber", &serial)]).unwrap();
        let e = run(&s, &root_call("DeleteVirtualMFADevice", later), &[("SerialNumber", &serial)]).unwrap_err();
        assert_eq!(e.message, format!("VirtualMFADevice with serial number {serial} doesn't exist."));
    }

    /// The root user's device (IAM User Guide, "Enable a virtual MFA device for the root user
    /// (console)"): enabled only through [`enable_root_mfa_device`], never `EnableMFADevice`.
    #[test]
    fn root_device_enable_list_verify_deactivate() {
        let t0 = 1_700_000_000;
        let s = services_at(t0);
        put_user(&s, "alice");
        let created =
            run(&s, &root_call("CreateVirtualMFADevice", t0), &[("VirtualMFADeviceName", "root-phone")]).unwrap();
        let serial = elem(&created, "SerialNumber").unwrap();
        let key = seed_from(&created);
        let now = t0 + 95;
        let cur = step_of(now);
        let (c1, c2) = (totp_code(&key, cur - 1), totp_code(&key, cur));
        // The API keeps refusing a root device.
        let e = run(
            &s,
            &root_call("EnableMFADevice", now),
            &[("SerialNumber", &serial), ("AuthenticationCode1", &c1), ("AuthenticationCode2", &c2)],
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError", "{}", e.message);
        // Only the root user may enable it for the root user.
        let e = enable_root_mfa_device(&s, &user_call("EnableMFADevice", "alice", now), &serial, &c1, &c2).unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        let e = enable_root_mfa_device(&s, &root_call("EnableMFADevice", now), &serial, &c2, &c1).unwrap_err();
        assert_eq!(e.code, "InvalidAuthenticationCode");
        assert!(!root_mfa_enabled(s.store.read().unwrap().as_ref(), ACCOUNT).unwrap());
        enable_root_mfa_device(&s, &root_call("EnableMFADevice", now), &serial, &c1, &c2).unwrap();
        let e = enable_root_mfa_device(&s, &root_call("EnableMFADevice", now), &serial, &c1, &c2).unwrap_err();
        assert_eq!(e.code, "EntityAlreadyExists");
        // A user cannot take the root's device.
        let e = run(
            &s,
            &root_call("EnableMFADevice", now),
            &[
                ("UserName", "alice"),
                ("SerialNumber", &serial),
                ("AuthenticationCode1", &totp_code(&key, cur)),
                ("AuthenticationCode2", &totp_code(&key, cur + 1)),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "EntityAlreadyExists");

        let stored = read(&s, |r| load_device(r, &serial).ise()).unwrap().unwrap();
        assert!(stored.root && stored.user.is_none() && stored.assigned());
        assert_eq!(mfa_device_owner(&s, &serial).unwrap(), None, "no IAM user owns it");
        assert!(root_mfa_enabled(s.store.read().unwrap().as_ref(), ACCOUNT).unwrap());
        assert_eq!(count_devices(s.store.read().unwrap().as_ref(), ACCOUNT).unwrap(), (1, 1));

        // Codes verify once, cluster-wide through the record.
        assert!(!verify_token(&s, &serial, &c2, now).unwrap(), "spent by the enable");
        assert!(verify_token(&s, &serial, &totp_code(&key, cur + 1), now + 30).unwrap());
        assert!(!verify_token(&s, &serial, &totp_code(&key, cur + 1), now + 30).unwrap(), "reuse");

        let listed = run(&s, &root_call("ListMFADevices", now), &[]).unwrap();
        assert_eq!(elem(&listed, "SerialNumber").as_deref(), Some(serial.as_str()));
        assert_eq!(elem(&listed, "UserName").as_deref(), Some(ACCOUNT));
        let alices = run(&s, &root_call("ListMFADevices", now), &[("UserName", "alice")]).unwrap();
        assert!(!alices.contains("<member>"));
        let virt = run(&s, &root_call("ListVirtualMFADevices", now), &[("AssignmentStatus", "Assigned")]).unwrap();
        assert!(virt.contains(&format!("<Arn>arn:aws:iam::{ACCOUNT}:root</Arn>")), "{virt}");
        assert_eq!(elem(&virt, "UserId").as_deref(), Some(ACCOUNT));
        let got = run(&s, &root_call("GetMFADevice", now), &[("SerialNumber", &serial)]).unwrap();
        assert_eq!(elem(&got, "SerialNumber").as_deref(), Some(serial.as_str()));
        assert!(elem(&got, "EnableDate").is_some() && elem(&got, "UserName").is_none());
        let e =
            run(&s, &root_call("GetMFADevice", now), &[("SerialNumber", &serial), ("UserName", "alice")]).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        let e = run(&s, &root_call("DeleteVirtualMFADevice", now), &[("SerialNumber", &serial)]).unwrap_err();
        assert_eq!(e.code, "DeleteConflict");

        run(&s, &root_call("DeactivateMFADevice", now), &[("SerialNumber", &serial)]).unwrap();
        assert!(!root_mfa_enabled(s.store.read().unwrap().as_ref(), ACCOUNT).unwrap());
        assert!(!verify_token(&s, &serial, &totp_code(&key, cur + 2), now + 60).unwrap());
        let e = run(&s, &root_call("DeactivateMFADevice", now), &[("SerialNumber", &serial)]).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        run(&s, &root_call("DeleteVirtualMFADevice", now), &[("SerialNumber", &serial)]).unwrap();
    }

    #[test]
    fn records_without_root_read_as_not_root() {
        let old = r#"{"account":"123456789012","path":"/","name":"d","created":1,"seed_sealed":"v1:x","user":"bob","enabled":2}"#;
        let d: MfaDevice = serde_json::from_str(old).unwrap();
        assert!(!d.root && d.assigned());
    }

    #[test]
    fn tags_and_validation() {
        let s = services_at(1);
        let created = run(
            &s,
            &root_call("CreateVirtualMFADevice", 1),
            &[
                ("VirtualMFADeviceName", "d"),
                ("Path", "/team/"),
                ("Tags.member.1.Key", "k"),
                ("Tags.member.1.Value", "v"),
            ],
        )
        .unwrap();
        let serial = elem(&created, "SerialNumber").unwrap();
        assert!(serial.ends_with(":mfa/team/d"));
        run(
            &s,
            &root_call("TagMFADevice", 1),
            &[("SerialNumber", &serial), ("Tags.member.1.Key", "K"), ("Tags.member.1.Value", "w")],
        )
        .unwrap();
        let tags = run(&s, &root_call("ListMFADeviceTags", 1), &[("SerialNumber", &serial)]).unwrap();
        assert_eq!(tags.matches("<member>").count(), 1);
        assert_eq!(elem(&tags, "Value").as_deref(), Some("w"));
        run(&s, &root_call("UntagMFADevice", 1), &[("SerialNumber", &serial), ("TagKeys.member.1", "k")]).unwrap();
        let tags = run(&s, &root_call("ListMFADeviceTags", 1), &[("SerialNumber", &serial)]).unwrap();
        assert!(!tags.contains("<member>"));
        let e = run(&s, &root_call("CreateVirtualMFADevice", 1), &[("VirtualMFADeviceName", "a b")]).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = run(&s, &root_call("CreateVirtualMFADevice", 1), &[("VirtualMFADeviceName", "x"), ("Path", "team")])
            .unwrap_err();
        assert!(e.message.contains("at 'path'"), "{}", e.message);
        let e = run(
            &s,
            &root_call("CreateVirtualMFADevice", 1),
            &[
                ("VirtualMFADeviceName", "y"),
                ("Tags.member.1.Key", "a"),
                ("Tags.member.1.Value", "1"),
                ("Tags.member.2.Key", "A"),
                ("Tags.member.2.Value", "2"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidInput");
        let e = run(
            &s,
            &root_call("EnableMFADevice", 1),
            &[
                ("UserName", "nobody"),
                ("SerialNumber", &serial),
                ("AuthenticationCode1", "123456"),
                ("AuthenticationCode2", "12345a"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
    }
}
