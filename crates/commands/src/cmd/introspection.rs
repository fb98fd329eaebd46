//! SLOWLOG and LATENCY.

use crate::cmd::connection::help;
use crate::{latency_report, CmdError, CmdResult, Ctx};
use std::sync::atomic::Ordering::Relaxed;
use tumbler_proto::{num, Args};

/// SLOWLOG GET [count]
pub fn slowlog_get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.".into());
    }
    let count = match args.opt(2) {
        None => 10,
        Some(a) => match num::parse_i64(a) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => return Err("ERR count should be greater than or equal to -1".into()),
        },
    };
    let reply = &mut *ctx.reply;
    ctx.srv.slowlog.with_entries(count, |entries| {
        let entries: Vec<_> = entries.collect();
        reply.array(entries.len());
        for e in entries {
            reply.array(6);
            reply.int(e.id as i64);
            reply.int(e.time);
            reply.int(e.duration as i64);
            reply.array(e.args.len());
            for a in &e.args {
                reply.bulk(a);
            }
            reply.bulk(e.peer.as_bytes());
            reply.bulk(&e.name);
        }
    });
    Ok(())
}

/// SLOWLOG LEN
pub fn slowlog_len(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.reply.int(ctx.srv.slowlog.len() as i64);
    Ok(())
}

/// SLOWLOG RESET
pub fn slowlog_reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.reply.ok();
    Ok(())
}

/// SLOWLOG HELP
pub fn slowlog_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

/// LATENCY LATEST: `[event, time of the latest sample, latest ms, max ms]` per event.
pub fn latency_latest(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let reply = &mut *ctx.reply;
    ctx.srv.latency.with_events(|events| {
        reply.array(events.len());
        for (name, ev) in events {
            let (time, ms) = ev.samples.back().copied().unwrap_or((0, 0));
            reply.array(4);
            reply.bulk(name.as_bytes());
            reply.int(time);
            reply.int(ms as i64);
            reply.int(ev.max as i64);
        }
    });
    Ok(())
}

/// LATENCY HISTORY event: `[time, ms]` per sample, oldest first.
pub fn latency_history(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let event = args.get(2);
    let reply = &mut *ctx.reply;
    ctx.srv.latency.with_events(|events| match events.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(event)) {
        None => reply.array(0),
        Some((_, ev)) => {
            reply.array(ev.samples.len());
            for &(time, ms) in &ev.samples {
                reply.array(2);
                reply.int(time);
                reply.int(ms as i64);
            }
        }
    });
    Ok(())
}

/// LATENCY RESET [event ...]: the number of events reset.
pub fn latency_reset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let names: Vec<&[u8]> = args.iter().skip(2).collect();
    let n = ctx.srv.latency.reset(&names);
    ctx.reply.int(n as i64);
    Ok(())
}

/// LATENCY DOCTOR: Redis' human-readable analysis of the recorded events.
pub fn latency_doctor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let cfg = &ctx.srv.config;
    let mut settings = latency_report::DoctorSettings::with_threshold(cfg.latency_monitor_threshold.load(Relaxed));
    settings.slowlog_log_slower_than_us = cfg.slowlog_slower_than.load(Relaxed);
    let now = ctx.srv.clock.wall_us() / 1_000_000;
    let text = ctx.srv.latency.with_events(|events| {
        let evs: Vec<(&str, &crate::slowlog::LatencyEvent)> = events.iter().map(|(n, e)| (*n, e)).collect();
        latency_report::doctor_with(&evs, &settings, now)
    });
    ctx.reply.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// LATENCY GRAPH event: Redis' ASCII graph of an event's samples.
pub fn latency_graph(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let event = args.get(2);
    let now = ctx.srv.clock.wall_us() / 1_000_000;
    // Redis looks the event up by its exact name.
    let text = ctx.srv.latency.with_events(|e| {
        e.iter().find(|(n, _)| n.as_bytes() == event).map(|(n, ev)| latency_report::graph(n, ev, now))
    });
    match text {
        Some(t) => {
            ctx.reply.verbatim(b"txt", t.as_bytes());
            Ok(())
        }
        None => {
            let mut m = b"ERR No samples available for event '".to_vec();
            m.extend_from_slice(event);
            m.push(b'\'');
            Err(CmdError::Owned(m))
        }
    }
}

/// LATENCY HISTOGRAM [command ...]: for each command that ran (all of them without
/// arguments; a container command named brings its subcommands that ran), its calls and the
/// running count at each of Redis' latency buckets ([`crate::hdr::cumulative`]).
pub fn latency_histogram(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let reg = &ctx.srv.registry;
    let mut ids = Vec::new();
    if args.len() == 2 {
        ids.extend((0..reg.len()).map(|i| i as crate::CommandId));
    } else {
        for name in args.iter().skip(2) {
            let mut parts = name.splitn(2, |&c| c == b'|');
            let found = match (parts.next().and_then(|p| reg.lookup(p)), parts.next()) {
                (Some(id), None) => Some(id),
                (Some(id), Some(sub)) => reg.lookup_sub(id, sub),
                (None, _) => None,
            };
            if let Some(id) = found {
                ids.push(id);
                ids.extend(reg.children(id).map(|(sub, _)| sub));
            }
        }
    }
    let hists: Vec<_> = ids.into_iter().filter_map(|id| Some((id, ctx.srv.stats.histogram(id)?))).collect();
    let r = &mut *ctx.reply;
    r.map(hists.len());
    for (id, h) in &hists {
        r.bulk(reg.get(*id).fullname.as_bytes());
        r.map(2);
        r.bulk(b"calls");
        r.int(h.iter().sum::<u64>() as i64);
        r.bulk(b"histogram_usec");
        let buckets = crate::hdr::cumulative(h);
        r.map(buckets.len());
        for (usec, count) in buckets {
            r.int(usec as i64);
            r.int(count as i64);
        }
    }
    Ok(())
}

/// LATENCY HELP
pub fn latency_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    help(
        ctx,
        &[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
