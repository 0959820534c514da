using System.CommandLine;
using System.Globalization;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>The sizes and durations every run of one compare shares; the parent passes them on to each child as options.</summary>
/// <param name="Seconds">Measured window of the closed-loop, async and raw workloads.</param>
/// <param name="Warmup">Warm-up before the window.</param>
/// <param name="Burst64Mebibytes">Payload of one burst of 64 B records.</param>
/// <param name="Burst1kMebibytes">Payload of one burst of 1 KiB records.</param>
/// <param name="RecoveryMebibytes">Payload of the log the recovery workloads reopen.</param>
internal sealed record RunSettings(double Seconds, double Warmup, int Burst64Mebibytes, int Burst1kMebibytes, int RecoveryMebibytes)
{
    public const double DefaultSeconds = 5;
    public const double DefaultWarmup = 1;
    public const int DefaultBurst64Mebibytes = 512;
    public const int DefaultBurst1kMebibytes = 2048;
    public const int DefaultRecoveryMebibytes = 1024;

    /// <summary>The options that set these, shared by <c>compare</c> and <c>run-one</c>, with their limits checked at parse time.</summary>
    internal sealed class Options
    {
        public Option<double> Seconds { get; } = Positive(new Option<double>("--seconds")
        {
            Description = "Measured seconds of each closed-loop, async and raw run.",
            DefaultValueFactory = _ => DefaultSeconds,
        });

        public Option<double> Warmup { get; } = NotNegative(new Option<double>("--warmup")
        {
            Description = "Warm-up seconds before each measured window.",
            DefaultValueFactory = _ => DefaultWarmup,
        });

        public Option<int> Burst64Mebibytes { get; } = Positive(new Option<int>("--burst64-mib")
        {
            Description = "MiB of payload in one burst of 64 B records, two producers appending half each (512: 8 M records, about 0.8 s for this log at 11 M records/s).",
            DefaultValueFactory = _ => DefaultBurst64Mebibytes,
        });

        public Option<int> Burst1kMebibytes { get; } = Positive(new Option<int>("--burst1k-mib")
        {
            Description = "MiB of payload in one burst of 1 KiB records (2048: 2 M records, about 1.4 s for this log at 1.5 GB/s).",
            DefaultValueFactory = _ => DefaultBurst1kMebibytes,
        });

        public Option<int> RecoveryMebibytes { get; } = Positive(new Option<int>("--recovery-mib")
        {
            Description = "MiB of payload in the log the recovery workloads reopen (1 KiB records).",
            DefaultValueFactory = _ => DefaultRecoveryMebibytes,
        });

        public IEnumerable<Option> All => [Seconds, Warmup, Burst64Mebibytes, Burst1kMebibytes, RecoveryMebibytes];

        public RunSettings Read(ParseResult parsed) =>
            new(parsed.GetValue(Seconds), parsed.GetValue(Warmup), parsed.GetValue(Burst64Mebibytes), parsed.GetValue(Burst1kMebibytes), parsed.GetValue(RecoveryMebibytes));

        private static Option<T> Positive<T>(Option<T> option)
            where T : struct, IComparable<T>
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<T>().CompareTo(default) <= 0)
                {
                    result.AddError($"{option.Name} must be more than 0.");
                }
            });
            return option;
        }

        private static Option<T> NotNegative<T>(Option<T> option)
            where T : struct, IComparable<T>
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<T>().CompareTo(default) < 0)
                {
                    result.AddError($"{option.Name} must be 0 or more.");
                }
            });
            return option;
        }
    }

    /// <summary>The same settings as <c>run-one</c> options.</summary>
    public IEnumerable<string> ToArguments() =>
    [
        "--seconds", Seconds.ToString(CultureInfo.InvariantCulture),
        "--warmup", Warmup.ToString(CultureInfo.InvariantCulture),
        "--burst64-mib", Burst64Mebibytes.ToString(CultureInfo.InvariantCulture),
        "--burst1k-mib", Burst1kMebibytes.ToString(CultureInfo.InvariantCulture),
        "--recovery-mib", RecoveryMebibytes.ToString(CultureInfo.InvariantCulture),
    ];
}
