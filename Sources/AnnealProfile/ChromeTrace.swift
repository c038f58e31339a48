// Chrome trace-event export (opens in Perfetto and chrome://tracing):
// complete ("X") events with ts/dur in µs, step ⊃ phase ⊃ module spans ⊃ kernels
// on one thread, plus a check that the trace path is writable before a run.

import Foundation

/// A trace path that cannot be written.
public struct TraceError: Error, CustomStringConvertible {
    /// What is wrong with the path.
    public let description: String
    /// An error with this message.
    public init(_ description: String) { self.description = description }
}

extension ProfileReport {
    /// The trace as trace-event JSON: `{"traceEvents": [...], "displayTimeUnit": "ms"}`.
    ///
    /// Every span and kernel is a complete event (`"ph": "X"`) on pid 1, tid 1
    /// with `ts` and `dur` in microseconds from the first record; spans enclose
    /// what ran inside them, so viewers nest kernels under module, phase and
    /// step spans. Kernel events carry flops, bytes, shapes, module and class in `args`.
    public func chromeTrace() -> Data {
        let t0 = min(spans.map(\.start).min() ?? .max, ops.map(\.start).min() ?? .max, steps.map(\.start).min() ?? .max)
        func us(_ t: UInt64) -> String { JSONText.number(Double(t &- t0) / 1000, decimals: 3) }
        func dur(_ a: UInt64, _ b: UInt64) -> String { JSONText.number(Double(b &- a) / 1000, decimals: 3) }

        // (start, -end) order puts outer spans before the events they contain.
        var events: [(start: UInt64, end: UInt64, rank: Int, json: String)] = []
        events.reserveCapacity(ops.count + spans.count + 2)
        for s in spans {
            var args: [(String, String)] = [("step", String(s.step))]
            if let p = s.phase, s.kind != .phase { args.append(("phase", JSONText.string(p.rawValue))) }
            events.append((s.start, s.end, s.kind == .step ? 0 : s.kind == .phase ? 1 : 2 + s.depth, JSONText.object([
                ("name", JSONText.string(s.name)), ("cat", JSONText.string(s.kind.rawValue)), ("ph", "\"X\""),
                ("ts", us(s.start)), ("dur", dur(s.start, s.end)), ("pid", "1"), ("tid", "1"),
                ("args", JSONText.object(args)),
            ])))
        }
        for o in ops {
            var args: [(String, String)] = [
                ("flops", String(o.flops)), ("bytes_read", String(o.bytesRead)), ("bytes_written", String(o.bytesWritten)),
                ("shape", JSONText.string(o.detail)), ("module", JSONText.string(o.module)),
                ("class", JSONText.string(o.flopClass.rawValue)), ("step", String(o.step)),
            ]
            if let p = o.phase { args.append(("phase", JSONText.string(p.rawValue))) }
            events.append((o.start, o.end, Int.max, JSONText.object([
                ("name", JSONText.string(o.name)), ("cat", "\"kernel\""), ("ph", "\"X\""),
                ("ts", us(o.start)), ("dur", dur(o.start, o.end)), ("pid", "1"), ("tid", "1"),
                ("args", JSONText.object(args)),
            ])))
        }
        events.sort { ($0.start, $1.end, $0.rank) < ($1.start, $0.end, $1.rank) }
        var lines = [
            #"{"name": "process_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "anneal"}}"#,
            #"{"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "training step"}}"#,
        ]
        lines += events.map(\.json)
        return Data(("{\"traceEvents\": [\n" + lines.joined(separator: ",\n") + "\n], \"displayTimeUnit\": \"ms\"}\n").utf8)
    }

    /// Writes `chromeTrace()` to `url` atomically.
    public func writeChromeTrace(to url: URL) throws {
        do { try chromeTrace().write(to: url, options: .atomic) } catch {
            throw TraceError("cannot write trace to \(url.path): \(error.localizedDescription)")
        }
    }
}

/// Checks that a trace can be written to `url` (call before a long run):
/// the parent directory exists and is writable, and `url` is not a
/// directory or a read-only file. Throws `TraceError` naming the problem.
public func validateTracePath(_ url: URL) throws {
    let fm = FileManager.default
    let path = url.path
    var isDir: ObjCBool = false
    if fm.fileExists(atPath: path, isDirectory: &isDir) {
        if isDir.boolValue { throw TraceError("cannot write trace to \(path): it is a directory") }
        if access(path, W_OK) != 0 { throw TraceError("cannot write trace to \(path): the file is not writable") }
    }
    let dir = url.deletingLastPathComponent().path
    guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw TraceError("cannot write trace to \(path): directory \(dir) does not exist")
    }
    if access(dir, W_OK) != 0 { throw TraceError("cannot write trace to \(path): directory \(dir) is not writable") }
}
