using System.CommandLine;

namespace Aletheia.Wal.Tool.Commands;

/// <summary>The argument and options the log commands share: the log directory and the recovery mode.</summary>
internal static class LogArguments
{
    /// <summary>A command of DIR and <c>--mode</c> only (<c>verify</c>, <c>stats</c>): runs <paramref name="run"/> with their values.</summary>
    public static Command WithDirectoryAndMode(string name, string description, string modeDescription, Func<string, WalRecoveryMode, int> run)
    {
        Argument<string> directory = Directory();
        Option<WalRecoveryMode> mode = Mode(modeDescription);
        var command = new Command(name, description) { directory, mode };
        command.SetAction(parsed => run(parsed.GetValue(directory)!, parsed.GetValue(mode)));
        return command;
    }

    /// <summary>DIR: the log directory.</summary>
    public static Argument<string> Directory() => new("DIR") { Description = "The log directory." };

    /// <summary>
    /// <c>--mode</c>: the recovery mode to judge or repair the log by; default TruncateTornTail, as <see cref="WalOptions.RecoveryMode"/>.
    /// Anything else than a mode's name (a number included) is a usage error.
    /// </summary>
    public static Option<WalRecoveryMode> Mode(string description)
    {
        return new Option<WalRecoveryMode>("--mode")
        {
            Description = description,
            DefaultValueFactory = _ => WalRecoveryMode.TruncateTornTail,
            CustomParser = result =>
            {
                string token = result.Tokens[0].Value;
                if (!char.IsAsciiDigit(token[0]) && Enum.TryParse(token, ignoreCase: true, out WalRecoveryMode mode) && Enum.IsDefined(mode))
                {
                    return mode;
                }

                result.AddError($"--mode must be one of {string.Join(", ", Enum.GetNames<WalRecoveryMode>())}; it is '{token}'.");
                return default;
            },
        };
    }
}

