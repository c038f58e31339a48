// `anneal train` end to end: the default run's accuracy, exact resumption
// after SIGKILL (including kills during a checkpoint save), NaN stops,
// architecture mismatches and bad CSV input.

import Anneal
import AnnealTrain
import Foundation
import Testing

/// The `anneal` binary built beside the test bundle (or $ANNEAL_BINARY).
let annealBinary: URL = {
    if let path = ProcessInfo.processInfo.environment["ANNEAL_BINARY"] { return URL(fileURLWithPath: path) }
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("anneal")
}()

struct RunResult { let status: Int32; let stdout: String; let stderr: String; let killed: Bool }

/// Runs `anneal` with arguments; if `killAfter` is given, sends SIGKILL after that many seconds.
func runAnneal(_ args: [String], env: [String: String] = [:], killAfter: Double? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = annealBinary
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    var killed = false
    if let killAfter {
        let deadline = Date().addingTimeInterval(killAfter)
        while p.isRunning && Date() < deadline { usleep(2000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); killed = true }
    }
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                     stderr: String(decoding: e, as: UTF8.self), killed: killed)
}

func tempDir(_ name: String) throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("anneal-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// (type, step, epoch, loss/val_loss) of every metrics record, in order.
func metricRecords(_ dir: URL) throws -> [String] {
    let text = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    return text.split(separator: "\n").map { line in
        let o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        let type = o["type"] as! String
        let value = (o["loss"] ?? o["val_loss"]) as! Double
        return "\(type) \(o["step"]!) \(o["epoch"]!) \(value.bitPattern)"
    }
}

@Suite(.serialized) struct TrainTests {
    @Test func defaultRunReachesTheAccuracyTarget() throws {
        let dir = try tempDir("default")
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try Trainer(config: TrainConfig(), outDirectory: dir)
        trainer.log = { _ in }
        let summary = try trainer.run()
        #expect((summary.validationAccuracy ?? 0) >= 0.96, "validation accuracy \(summary.validationAccuracy ?? 0)")
        for f in ["checkpoint.safetensors", "metrics.jsonl", "loss_curve.svg", "standardizer.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "\(f) missing")
        }
        let svg = try String(contentsOf: dir.appendingPathComponent("loss_curve.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("<polyline"))
    }

    @Test func resumeAfterSIGKILLGivesIdenticalLosses() throws {
        let args = ["train", "--epochs", "3", "--hidden", "32", "--seed", "7", "--save-every", "4", "--threads", "1"]
        let a = try tempDir("whole"), b = try tempDir("killed")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let whole = try runAnneal(args + ["--out", a.path])
        #expect(whole.status == 0, "\(whole.stderr)")

        var rng = RandomGenerator(seed: 2024)
        var kills = 0, killsDuringSave = 0, attempts = 0
        let slowSave = ["ANNEAL_TEST_CHECKPOINT_DELAY_MS": "25"]
        while attempts < 40 {
            attempts += 1
            let hasCheckpoint = FileManager.default.fileExists(atPath: b.appendingPathComponent("checkpoint.safetensors").path)
            let resume = hasCheckpoint ? ["--resume", b.path] : ["--out", b.path]
            let delay = 0.05 + 0.35 * Double(rng.nextFloat())
            let r = try runAnneal(args + resume, env: slowSave, killAfter: delay)
            if !r.killed { #expect(r.status == 0, "\(r.stderr)"); break }
            kills += 1
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: b.path).filter { $0.contains(".tmp-") }
            if !leftovers.isEmpty { killsDuringSave += 1 }
        }
        #expect(kills >= 3, "only \(kills) kills happened")
        #expect(killsDuringSave >= 2, "only \(killsDuringSave) kills landed during a save")
        #expect(try metricRecords(b) == metricRecords(a))
        let final = try Data(contentsOf: b.appendingPathComponent("checkpoint.safetensors"))
        #expect(final == (try Data(contentsOf: a.appendingPathComponent("checkpoint.safetensors"))))
    }

    @Test func nanLossStopsWithTheStepAndKeepsTheLastCheckpoint() throws {
        let dir = try tempDir("nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runAnneal(["train", "--optimizer", "sgd", "--lr", "1e12", "--epochs", "2", "--save-every", "1", "--out", dir.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("at step") && r.stderr.contains("training stopped"), "\(r.stderr)")
        // The checkpoint left behind loads and holds finite weights.
        let resumed = try Trainer(config: { var c = TrainConfig(); c.optimizer = "sgd"; return c }(), outDirectory: try tempDir("nan2"),
                                  resume: dir)
        #expect(resumed.model.stateDict().values.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
    }

    @Test func resumingAnotherArchitectureListsTheMismatches() throws {
        let dir = try tempDir("arch")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try runAnneal(["train", "--epochs", "1", "--hidden", "32", "--out", dir.path]).status == 0)
        let r = try runAnneal(["train", "--epochs", "2", "--hidden", "16", "--resume", dir.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("0.weight: checkpoint [32, 64] vs model [16, 64]"), "\(r.stderr)")
    }

    @Test func badCSVNamesFileAndLine() throws {
        let dir = try tempDir("csv")
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("bad.csv")
        try "a,b,label\n1,2,0\n3,x,1\n".write(to: csv, atomically: true, encoding: .utf8)
        let r = try runAnneal(["train", "--data", csv.path, "--out", dir.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.csv:3"), "\(r.stderr)")
    }

    @Test func gptTrainsOnTextAndSamples() throws {
        let dir = try tempDir("gpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("t.txt")
        try String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 400).write(to: text, atomically: true, encoding: .utf8)
        let r = try runAnneal(["train", "--model", "gpt", "--text", text.path, "--epochs", "2", "--steps-per-epoch", "20",
                               "--context", "16", "--dimensions", "32", "--layers", "1", "--heads", "2", "--lr", "3e-3",
                               "--out", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let losses = try metricRecords(dir).filter { $0.hasPrefix("step") }.map { Double(bitPattern: UInt64($0.split(separator: " ")[3])!) }
        #expect(losses.count == 40 && losses.last! < losses.first!)
        let s = try runAnneal(["sample", "--checkpoint", dir.path, "--prompt", "the ", "--length", "30", "--top-k", "3"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.hasPrefix("the ") && s.stdout.trimmingCharacters(in: .newlines).count == 34)
    }
}
