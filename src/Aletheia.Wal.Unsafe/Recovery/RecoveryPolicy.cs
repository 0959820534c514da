using Aletheia.Wal.Reading;

namespace Aletheia.Wal.Recovery;

/// <summary>What recovery (or a reader) does with the first damage of a log.</summary>
internal enum RecoveryAction
{
    /// <summary>Keep every record before the damaged write, drop it and everything after it (durably, at open), report the range.</summary>
    Cut,

    /// <summary>Throw <see cref="WalCorruptionException"/>, change nothing.</summary>
    Refuse,
}

/// <summary>
/// The one table that maps what the bytes are (<see cref="DamageKind"/>, from <see cref="LogCursor"/>) and the recovery
/// mode to what is done, for recovery at open and for readers alike (RocksDB's recovery modes over its log reader's
/// record kinds have the same shape). A damaged end marker that the next segment makes good is not in it: the cursor
/// reads past it in every mode but Strict, which the cursor reports it to as damage.
/// </summary>
internal static class RecoveryPolicy
{
    public static RecoveryAction Decide(DamageKind kind, WalRecoveryMode mode) => (kind, mode) switch
    {
        (_, WalRecoveryMode.Strict) => RecoveryAction.Refuse,
        (DamageKind.TornTail, _) => RecoveryAction.Cut,
        (DamageKind.Corruption, WalRecoveryMode.PointInTime) => RecoveryAction.Cut,
        (DamageKind.Corruption, WalRecoveryMode.TruncateTornTail) => RecoveryAction.Refuse,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown recovery mode."),
    };

    /// <summary>Whether the cursor reads past end markers that the next segment's header makes good.</summary>
    public static bool ToleratesRepairableMarkers(WalRecoveryMode mode) => mode != WalRecoveryMode.Strict;
}
