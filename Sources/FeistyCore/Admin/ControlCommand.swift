import Foundation

/// One control request, parsed and checked before anything changes: a bad body is a 400 and changes nothing.
public enum ControlCommand: Sendable, Hashable {
    /// Ban `key` for `seconds` (`nil`: forever).
    case ban(BanKey, seconds: Double?, reason: String)
    /// Lift the ban on exactly `key`.
    case unban(BanKey)
    /// Swap instance `id` for a fresh one.
    case recycle(instance: Int)
    /// Swap every instance for one running the code on disk (SIGHUP).
    case reload

    /// The reason a ban added without one gets.
    public static let defaultBanReason = "banned through the admin API"

    /// Parses the JSON body of `POST /control/VERB`.
    /// - Throws: `ControlCommand.Invalid` naming what is wrong.
    public init(_ verb: AdminRoute.ControlVerb, body: [UInt8]) throws(Invalid) {
        switch verb {
        case .ban:
            let request = try Self.decode(BanBody.self, body, expected: #"{"client": "ADDRESS or CIDR", ...}"#)
            let duration = request.duration ?? "forever"
            let seconds: Double?
            do {
                seconds = try BanDuration.seconds(parsing: duration)
            } catch {
                throw Invalid("duration \(duration): \(error)")
            }
            self = .ban(try Self.key(request.client), seconds: seconds, reason: request.reason ?? Self.defaultBanReason)
        case .unban:
            let request = try Self.decode(ClientBody.self, body, expected: #"{"client": "ADDRESS or CIDR"}"#)
            self = .unban(try Self.key(request.client))
        case .recycle:
            let request = try Self.decode(RecycleBody.self, body, expected: #"{"instance": ID} (an id from /status)"#)
            self = .recycle(instance: request.instance)
        case .reload:
            self = .reload
        }
    }

    /// Why a control body was refused.
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    private struct BanBody: Decodable {
        var client: String
        var duration: String?
        var reason: String?
    }

    private struct ClientBody: Decodable {
        var client: String
    }

    private struct RecycleBody: Decodable {
        var instance: Int
    }

    private static func decode<Body: Decodable>(_ type: Body.Type, _ body: [UInt8], expected: String) throws(Invalid)
        -> Body
    {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw Invalid("expected a JSON body \(expected)")
        }
    }

    private static func key(_ client: String) throws(Invalid) -> BanKey {
        do {
            return try BanKey(parsing: client)
        } catch {
            throw Invalid("client \(client): \(error)")
        }
    }
}
