using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>What <c>aletheia-wal bench</c> was asked to do, every value checked.</summary>
internal sealed class BenchSettings
{
    /// <summary>Per workload; the whole default tour (seven timed parts, warm-up, verification) takes about 20 s.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(2.5);

    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    public const int DefaultPayloadBytes = 64;

    public const int DefaultInFlight = 256;

    public const int MaxThreads = 4096;

    public const int MaxInFlight = 4096;

    /// <summary>The largest payload the log takes with its default options (<see cref="WalOptions.MaxEntryBytes"/>).</summary>
    public static readonly int MaxPayloadBytes = new WalOptions { Directory = "." }.MaxEntryBytes;

    private static readonly (string Name, BenchWorkloads Workload)[] s_workloadNames =
    [
        ("durable", BenchWorkloads.Durable),
        ("async", BenchWorkloads.Async),
        ("burst64", BenchWorkloads.Burst64),
        ("burst1k", BenchWorkloads.Burst1K),
        ("verify", BenchWorkloads.Verify),
        ("raw", BenchWorkloads.Raw),
    ];

    public required IReadOnlyList<int> Threads { get; init; }

    public required int PayloadBytes { get; init; }

    public required TimeSpan Duration { get; init; }

    public required int InFlight { get; init; }

    /// <summary>The directory the user gave, or null for a fresh temporary one.</summary>
    public string? Directory { get; init; }

    public required BenchWorkloads Workloads { get; init; }

    public bool Json { get; init; }

    /// <summary>The options of the tour's log: the defaults, but for what <c>--stripes</c>, <c>--stripe-capacity</c>,
    /// <c>--write-buffer</c> and <c>--segment-size</c> set.</summary>
    public required Func<string, WalOptions> LogOptions { get; init; }

    /// <summary>The options given that change the log's defaults (for the notes), empty when none.</summary>
    public required IReadOnlyList<string> Tuned { get; init; }

    /// <summary>Each warm-up before the measured workloads: an eighth of a workload's duration, at most 0.25 s.</summary>
    public TimeSpan WarmUp => TimeSpan.FromTicks(Math.Min(Duration.Ticks / 8, TimeSpan.FromMilliseconds(250).Ticks));

    /// <summary>
    /// Checks the raw option values (null: not given) and reports the first bad one as one line naming the option, what it
    /// was, and what is allowed.
    /// </summary>
    public static bool TryCreate(
        string[]? threads, string? payload, string? duration, string? inFlight, string? directory, string[]? workloads, bool json,
        LogTuning tuning, [NotNullWhen(true)] out BenchSettings? settings, [NotNullWhen(false)] out string? error)
    {
        settings = null;
        if (!tuning.TryCreate(out Func<string, WalOptions>? logOptions, out List<string>? tuned, out error))
        {
            return false;
        }

        List<int> threadCounts = [1, 64];
        if (threads is { Length: > 0 })
        {
            threadCounts.Clear();
            foreach (string item in Items(threads))
            {
                if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1 || count > MaxThreads)
                {
                    error = $"--threads takes thread counts from 1 to {MaxThreads}, separated by commas (such as 1,64); '{item}' is not one.";
                    return false;
                }

                if (!threadCounts.Contains(count))
                {
                    threadCounts.Add(count);
                }
            }
        }

        int payloadBytes = DefaultPayloadBytes;
        if (payload is not null
            && (!int.TryParse(payload, NumberStyles.None, CultureInfo.InvariantCulture, out payloadBytes) || payloadBytes < BenchRecord.HeaderBytes || payloadBytes > MaxPayloadBytes))
        {
            error = $"--payload must be from {BenchRecord.HeaderBytes} bytes (a bench record's header: workload, producer, length, sequence) to {MaxPayloadBytes} bytes (WalOptions.MaxEntryBytes); it is '{payload}'.";
            return false;
        }

        TimeSpan runFor = DefaultDuration;
        if (duration is not null && (!TryParseDuration(duration, out runFor) || runFor < TimeSpan.FromMilliseconds(1) || runFor > MaxDuration))
        {
            error = $"--duration must be a time from 1ms to 1h, such as 200ms, 2.5s or 1m (a plain number is seconds); it is '{duration}'.";
            return false;
        }

        int outstanding = DefaultInFlight;
        if (inFlight is not null
            && (!int.TryParse(inFlight, NumberStyles.None, CultureInfo.InvariantCulture, out outstanding) || outstanding < 1 || outstanding > MaxInFlight))
        {
            error = $"--in-flight must be from 1 to {MaxInFlight} appends; it is '{inFlight}'.";
            return false;
        }

        if (directory is not null && string.IsNullOrWhiteSpace(directory))
        {
            error = "--directory must name a directory; it is empty.";
            return false;
        }

        BenchWorkloads chosen = BenchWorkloads.All;
        if (workloads is { Length: > 0 })
        {
            chosen = BenchWorkloads.None;
            foreach (string item in Items(workloads))
            {
                BenchWorkloads? named = null;
                foreach ((string name, BenchWorkloads workload) in s_workloadNames)
                {
                    if (string.Equals(item, name, StringComparison.OrdinalIgnoreCase))
                    {
                        named = workload;
                    }
                }

                if (named is null)
                {
                    error = $"--workloads takes {AllowedWorkloads}, separated by commas; '{item}' is not one.";
                    return false;
                }

                chosen |= named.Value;
            }
        }

        if (chosen == BenchWorkloads.Verify && directory is null)
        {
            error = "--workloads verify without a workload that writes needs --directory: the log to verify (a fresh temporary directory holds none).";
            return false;
        }

        settings = new BenchSettings
        {
            Threads = threadCounts,
            PayloadBytes = payloadBytes,
            Duration = runFor,
            InFlight = outstanding,
            Directory = directory is null ? null : Path.GetFullPath(directory),
            Workloads = chosen,
            Json = json,
            LogOptions = logOptions,
            Tuned = tuned,
        };
        error = null;
        return true;
    }

    /// <summary>The log's options as given on the command line (null: the default), sizes in bytes with an optional K, M or G.</summary>
    internal readonly record struct LogTuning(string? Stripes, string? StripeCapacity, string? WriteBuffer, string? SegmentSize)
    {
        public bool TryCreate([NotNullWhen(true)] out Func<string, WalOptions>? options, [NotNullWhen(true)] out List<string>? tuned, [NotNullWhen(false)] out string? error)
        {
            options = null;
            tuned = [];
            var defaults = new WalOptions { Directory = "." };
            long stripes = defaults.StripeCount, stripeCapacity = defaults.StripeCapacityBytes, writeBuffer = defaults.WriteBufferBytes, segmentSize = defaults.SegmentSizeBytes;
            if (!TryRead("--stripes", Stripes, ref stripes, sizes: false, tuned, out error)
                || !TryRead("--stripe-capacity", StripeCapacity, ref stripeCapacity, sizes: true, tuned, out error)
                || !TryRead("--write-buffer", WriteBuffer, ref writeBuffer, sizes: true, tuned, out error)
                || !TryRead("--segment-size", SegmentSize, ref segmentSize, sizes: true, tuned, out error))
            {
                return false;
            }

            // Ranges and how the options bound one another are the log's to say: its own check, every bad one named.
            Func<string, WalOptions> make = directory => new WalOptions
            {
                Directory = directory,
                StripeCount = (int)Math.Clamp(stripes, 0, int.MaxValue),
                StripeCapacityBytes = (int)Math.Clamp(stripeCapacity, 0, int.MaxValue),
                WriteBufferBytes = (int)Math.Clamp(writeBuffer, 0, int.MaxValue),
                SegmentSizeBytes = segmentSize,
            };
            try
            {
                make(".").Validate();
            }
            catch (ArgumentException e)
            {
                string message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
                error = message.ReplaceLineEndings(" ");
                return false;
            }

            options = make;
            error = null;
            return true;
        }

        private static bool TryRead(string option, string? text, ref long value, bool sizes, List<string> tuned, [NotNullWhen(false)] out string? error)
        {
            error = null;
            if (text is null)
            {
                return true;
            }

            string digits = text.Trim();
            int shift = !sizes || digits.Length == 0 ? 0 : char.ToUpperInvariant(digits[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
            if (shift != 0)
            {
                digits = digits[..^1];
            }

            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed) || parsed > (long.MaxValue >> shift))
            {
                error = sizes
                    ? $"{option} takes a size in bytes, with an optional K, M or G (such as 65536 or 64K); it is '{text}'."
                    : $"{option} takes a whole number; it is '{text}'.";
                return false;
            }

            value = parsed << shift;
            tuned.Add($"{option} {text}");
            return true;
        }
    }

    public static string AllowedWorkloads => string.Join(", ", s_workloadNames.Select(w => w.Name));

    /// <summary>The name <c>--workloads</c> knows a workload by.</summary>
    public static string NameOf(BenchWorkloads workload) => s_workloadNames.First(w => w.Workload == workload).Name;

    public bool Runs(BenchWorkloads workload) => (Workloads & workload) != 0;

    /// <summary>A duration such as <c>200ms</c>, <c>2.5s</c>, <c>1m</c>, <c>1h</c>, or a plain number of seconds.</summary>
    internal static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        string trimmed = text.Trim();
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        double scale = 1;
        foreach ((string suffix, double seconds) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                trimmed = trimmed[..^suffix.Length];
                scale = seconds;
                break;
            }
        }

        if (!double.TryParse(trimmed, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            || !double.IsFinite(value) || Math.Abs(value * scale) > MaxDuration.TotalSeconds * 2)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * scale);
        return true;
    }

    // Each value may hold several items separated by commas; an empty item is reported as a bad one.
    private static IEnumerable<string> Items(string[] values) => values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries));
}
