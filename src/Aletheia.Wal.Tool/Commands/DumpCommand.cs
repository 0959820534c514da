using System.CommandLine;
using System.Text;
using Spectre.Console;
using static Aletheia.Wal.Tool.Commands.Verdicts;

namespace Aletheia.Wal.Tool.Commands;

/// <summary><c>dump DIR [--from LSN] [--count N] [--hex|--text] [--mode M]</c>: one line per record, through a snapshot reader.</summary>
internal static class DumpCommand
{
    /// <summary>Payload bytes shown per record.</summary>
    public const int PreviewBytes = 32;

    public static Command Create(IAnsiConsole console)
    {
        Argument<string> directory = LogArguments.Directory();
        var from = new Option<ulong>("--from")
        {
            Description = "The first LSN to show (default: the oldest kept).",
            HelpName = "LSN",
            CustomParser = result => Positive(result, "--from", "an LSN, 1 or more"),
        };
        var count = new Option<ulong?>("--count")
        {
            Description = "Show at most this many records (default: all).",
            HelpName = "N",
            CustomParser = result => Positive(result, "--count", "1 or more"),
        };
        var hex = new Option<bool>("--hex") { Description = $"Preview the first {PreviewBytes} payload bytes in hex (the default)." };
        var text = new Option<bool>("--text") { Description = $"Preview the first {PreviewBytes} payload bytes as text, other bytes than printable ASCII escaped (\\n, \\xNN)." };
        Option<WalRecoveryMode> mode = LogArguments.Mode("What damage does to the reader: TruncateTornTail (default) and Strict stop with an error at damage they refuse, PointInTime stops before the first damage.");
        var command = new Command(
            "dump",
            "Print one line per record (LSN, payload length, a preview of the payload) with a snapshot reader (WalReader.Open, no lock: the log " +
            "may be open by a writer), and say where and why it stopped. Exit code 0, 1 at damage the mode refuses, 3 when there is no log.")
        {
            directory,
            from,
            count,
            hex,
            text,
            mode,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(hex) && result.GetValue(text))
            {
                result.AddError("--hex and --text cannot be used together.");
            }
        });
        command.SetAction(parsed => Run(console, parsed.GetValue(directory)!, parsed.GetValue(from), parsed.GetValue(count), parsed.GetValue(text), parsed.GetValue(mode)));
        return command;
    }

    private static int Run(IAnsiConsole console, string directory, ulong from, ulong? count, bool asText, WalRecoveryMode mode)
    {
        TextWriter output = console.Profile.Out.Writer;
        using WalReader reader = WalReader.Open(Path.GetFullPath(directory), new Lsn(from), mode);
        output.WriteLine($"{"LSN",12}  {"bytes",10}  first {PreviewBytes} bytes ({(asText ? "text" : "hex")})");
        ulong shown = 0;
        ulong last = 0;
        while ((count is null || shown < count) && reader.TryRead(out WalRecord record))
        {
            ReadOnlySpan<byte> payload = record.Payload;
            ReadOnlySpan<byte> preview = payload[..Math.Min(PreviewBytes, payload.Length)];
            string more = payload.Length > PreviewBytes ? "..." : "";
            output.WriteLine(Invariant($"{record.Lsn,12}  {payload.Length,10}  {(asText ? Escape(preview) : Convert.ToHexStringLower(preview))}{more}"));
            shown++;
            last = record.Lsn.Value;
        }

        string records = Invariant($"{shown} record{(shown == 1 ? "" : "s")}");
        if (count is { } limit && shown == limit)
        {
            output.WriteLine(reader.TryRead(out WalRecord next)
                ? Invariant($"{records} shown (--count {limit}); more follow, from LSN {next.Lsn}")
                : Invariant($"{records} shown (--count {limit}); {Stop(reader)}"));
            return WalTool.Ok;
        }

        output.WriteLine(shown == 0 ? $"no record shown; {Stop(reader)}" : Invariant($"{records} shown, LSN {(last + 1 - shown)} to {last}; {Stop(reader)}"));
        return WalTool.Ok;
    }

    /// <summary>An option's whole number, at least 1; else an error naming the option, what it must be and what it is.</summary>
    private static ulong Positive(System.CommandLine.Parsing.ArgumentResult result, string option, string allowed)
    {
        string token = result.Tokens[0].Value;
        if (ulong.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong value) && value >= 1)
        {
            return value;
        }

        result.AddError($"{option} must be {allowed}; it is '{token}'.");
        return 0;
    }

    /// <summary>Where and why the reader stopped (it returned false).</summary>
    private static string Stop(WalReader reader) => reader.StoppedAt switch
    {
        { } stop when reader.StoppedAtUnverifiedWrite =>
            Invariant($"stopped at a write it cannot verify, at byte {stop.Offset} of {stop.SegmentPath}: {stop.Reason} (a write in flight, or damage: 'aletheia-wal verify' judges it)"),
        { } stop => Invariant($"the end of the log: {stop.Reason} (byte {stop.Offset} of {stop.SegmentPath})"),
        null => "the end of the log",
    };

    /// <summary>Printable ASCII as it is; backslash, control and other bytes escaped (<c>\\</c>, <c>\n</c>, <c>\xNN</c>).</summary>
    internal static string Escape(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            text.Append(b switch
            {
                (byte)'\\' => "\\\\",
                (byte)'\n' => "\\n",
                (byte)'\r' => "\\r",
                (byte)'\t' => "\\t",
                0 => "\\0",
                >= 0x20 and < 0x7F => ((char)b).ToString(),
                _ => Invariant($"\\x{b:x2}"),
            });
        }

        return text.ToString();
    }
}
