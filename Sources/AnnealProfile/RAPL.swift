// Energy counters from Linux RAPL (powercap): package zones under a root that
// defaults to /sys/class/powercap and can be moved (ANNEAL_RAPL_ROOT) so tests
// use a fake tree. Unreadable counters are reported, never fatal.

import Foundation

/// One read of every top-level RAPL zone.
public struct RAPLReading: Sendable, Equatable {
    /// A zone's counter.
    public struct Zone: Sendable, Equatable {
        /// Directory name ("intel-rapl:0").
        public var id: String
        /// The zone's `name` file ("package-0").
        public var name: String
        /// `energy_uj`: microjoules since some origin (wraps at `maxRange`).
        public var energyMicrojoules: UInt64
        /// `max_energy_range_uj`: the counter wraps to 0 after this value (0 if unknown).
        public var maxRange: UInt64
    }
    /// Top-level zones, sorted by id.
    public var zones: [Zone]
    /// When it was read, in nanoseconds of `DispatchTime` uptime.
    public var time: UInt64

    /// Joules consumed between `earlier` and this reading, summed over zones
    /// present in both; a counter that went down wrapped once at its max range.
    public func joules(since earlier: RAPLReading) -> Double {
        var uj = 0.0
        for z in zones {
            guard let e = earlier.zones.first(where: { $0.id == z.id }) else { continue }
            if z.energyMicrojoules >= e.energyMicrojoules {
                uj += Double(z.energyMicrojoules - e.energyMicrojoules)
            } else if z.maxRange > e.energyMicrojoules {
                uj += Double(z.maxRange - e.energyMicrojoules) + Double(z.energyMicrojoules)
            }
        }
        return uj * 1e-6
    }
}

/// Reads RAPL package counters under `root`.
public struct RAPL: Sendable {
    /// The powercap directory (holds `intel-rapl:0`, … possibly as symlinks).
    public var root: URL

    /// The root from `ANNEAL_RAPL_ROOT`, else /sys/class/powercap.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        URL(fileURLWithPath: environment["ANNEAL_RAPL_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? "/sys/class/powercap",
            isDirectory: true)
    }

    /// A reader of `root` (default: `defaultRoot()`).
    public init(root: URL? = nil) { self.root = root ?? RAPL.defaultRoot() }

    /// Why counters could not be read.
    public struct Unavailable: Error, CustomStringConvertible {
        /// Which file or directory failed, and how.
        public let description: String
    }

    /// Reads every top-level zone ("<type>-rapl:N", not its subzones
    /// "<type>-rapl:N:M", which the package counter already includes).
    public func read() -> Result<RAPLReading, Unavailable> {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root.path) else {
            return .failure(Unavailable(description: "no RAPL counters: \(root.path) cannot be listed"))
        }
        let packages = names.filter { n in
            guard let colon = n.firstIndex(of: ":"), n[..<colon].hasSuffix("rapl") else { return false }
            let rest = n[n.index(after: colon)...]
            return !rest.isEmpty && rest.allSatisfy(\.isNumber)
        }.sorted()
        guard !packages.isEmpty else {
            return .failure(Unavailable(description: "no RAPL counters: \(root.path) has no *-rapl:N zones"))
        }
        var zones: [RAPLReading.Zone] = []
        for id in packages {
            let dir = root.appendingPathComponent(id, isDirectory: true)
            func text(_ file: String) -> String? {
                (try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let e = text("energy_uj").flatMap(UInt64.init) else {
                return .failure(Unavailable(description: "RAPL counter \(dir.appendingPathComponent("energy_uj").path) is not readable"))
            }
            zones.append(.init(id: id, name: text("name") ?? id, energyMicrojoules: e,
                               maxRange: text("max_energy_range_uj").flatMap(UInt64.init) ?? 0))
        }
        return .success(RAPLReading(zones: zones, time: DispatchTime.now().uptimeNanoseconds))
    }
}

/// Energy over an interval: RAPL when readable, else an assumed power draw.
public struct EnergyMeter: Sendable {
    /// Where the energy figure came from.
    public enum Source: Sendable, Equatable {
        /// Measured by RAPL package counters.
        case rapl
        /// `watts` × time, from `--watts`.
        case assumedWatts(Double)
        /// Neither is available.
        case unknown
    }

    /// The result of `finish()`.
    public struct Measurement: Sendable, Equatable {
        /// Length of the interval.
        public var seconds: Double
        /// Joules (nil when `source == .unknown`).
        public var joules: Double?
        /// RAPL, assumed watts, or unknown.
        public var source: Source
        /// Why RAPL was not used, if it was not.
        public var note: String?
        /// Mean power: the assumed watts, or joules / seconds.
        public var watts: Double? {
            if case .assumedWatts(let w) = source { return w }
            return joules.flatMap { seconds > 0 ? $0 / seconds : nil }
        }
    }

    let rapl: RAPL
    let fallbackWatts: Double?
    let startReading: Result<RAPLReading, RAPL.Unavailable>
    let startTime: UInt64

    /// Starts measuring now.
    public init(rapl: RAPL = RAPL(), fallbackWatts: Double? = nil) {
        self.rapl = rapl
        self.fallbackWatts = fallbackWatts
        startTime = DispatchTime.now().uptimeNanoseconds
        startReading = rapl.read()
    }

    /// Energy since `init`.
    public func finish() -> Measurement {
        let now = DispatchTime.now().uptimeNanoseconds
        let seconds = Double(now &- startTime) * 1e-9
        let failure: String
        switch (startReading, rapl.read()) {
        case (.success(let a), .success(let b)):
            return Measurement(seconds: seconds, joules: b.joules(since: a), source: .rapl, note: nil)
        case (.failure(let e), _), (_, .failure(let e)):
            failure = e.description
        }
        if let w = fallbackWatts {
            return Measurement(seconds: seconds, joules: w * seconds, source: .assumedWatts(w),
                               note: "\(failure); using --watts \(formatNumber(w)) W")
        }
        return Measurement(seconds: seconds, joules: nil, source: .unknown,
                           note: "\(failure); pass --watts to estimate energy")
    }
}

/// A number without trailing zeros ("65", "12.5").
func formatNumber(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(format: "%g", x)
}
