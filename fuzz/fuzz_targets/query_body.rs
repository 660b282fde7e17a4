//! The query protocol (STS, IAM) and the EC2 protocol: arbitrary URL queries and form bodies
//! never panic the decoder or its list/structure/map readers, decoded parameters written back
//! out decode to the same parameters, and every STS, IAM and EC2 operation's own input decoding
//! (run by `Services::handle` as an account's root user, in memory) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{fields, world};
use tessera_services::{Call, Dispatch, Input, ServiceName};
use tessera_wire::QueryParams;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let f = fields(rest, 2);
    let Ok(params) = QueryParams::parse(&[f[0], f[1]]) else { return };

    // Written back out, the parameters decode to the same parameters.
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter() {
        out.append_pair(k, v);
    }
    let again = out.finish();
    assert_eq!(QueryParams::parse(&[again.as_bytes()]).ok().as_ref(), Some(&params));

    // Every reader, on every name prefix the request uses.
    let _ = params.action();
    for (name, _) in params.iter() {
        for prefix in std::iter::once(name).chain(name.match_indices('.').map(|(i, _)| &name[..i])) {
            let _ = params.list(prefix);
            let _ = params.has_list(prefix);
            let _ = params.map(prefix);
            let _ = params.ec2_list(prefix);
            for s in params.structs(prefix).iter().chain(params.ec2_structs(prefix).iter()) {
                let _ = s.iter().count();
            }
            let _ = params.required(prefix);
        }
    }

    // The operations' own decoding.
    let service = [ServiceName::Sts, ServiceName::Iam, ServiceName::Ec2][usize::from(selector % 3)];
    let ops = service.operations();
    let operation =
        params.action().map_or_else(|| ops[usize::from(selector / 3) % ops.len()].to_string(), str::to_string);
    let w = world();
    let call = Call { caller: w.root(), operation, meta: w.meta() };
    let _ = w.services.handle(service, &call, &Input::Query(params));
});
