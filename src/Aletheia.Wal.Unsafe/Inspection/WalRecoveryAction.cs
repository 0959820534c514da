namespace Aletheia.Wal;

/// <summary>What <see cref="WriteAheadLog.Open(WalOptions)"/> in a given <see cref="WalRecoveryMode"/> does with what an inspection found.</summary>
public enum WalRecoveryAction
{
    /// <summary>Opens the log with every record kept.</summary>
    Keep,

    /// <summary>Cuts the log before the damaged write: keeps every record before it, drops it and everything after it, and reports the range.</summary>
    Cut,

    /// <summary>Throws <see cref="WalCorruptionException"/> (<see cref="WalInspectionReport.Refusal"/>) and changes nothing.</summary>
    Refuse,

    /// <summary>Creates a new, empty log (there is none).</summary>
    Create,
}
