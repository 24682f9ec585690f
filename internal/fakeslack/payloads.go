package fakeslack

import "encoding/json"

// Wire shapes of the frames and payloads the fake sends. Field names and
// order follow the samples in Slack's docs and the official SDKs' mocks.

type helloFrame struct {
	Type           string         `json:"type"`
	NumConnections int            `json:"num_connections"`
	DebugInfo      debugInfo      `json:"debug_info"`
	ConnectionInfo connectionInfo `json:"connection_info"`
}

type debugInfo struct {
	Host                      string `json:"host"`
	BuildNumber               int    `json:"build_number,omitempty"`
	ApproximateConnectionTime int    `json:"approximate_connection_time,omitempty"`
}

type connectionInfo struct {
	AppID string `json:"app_id"`
}

type disconnectFrame struct {
	Type           string          `json:"type"`
	Reason         string          `json:"reason"`
	NumConnections int             `json:"num_connections,omitempty"`
	DebugInfo      debugInfo       `json:"debug_info"`
	ConnectionInfo *connectionInfo `json:"connection_info,omitempty"`
}

type envelopeFrame struct {
	EnvelopeID             string          `json:"envelope_id"`
	Payload                json.RawMessage `json:"payload"`
	Type                   string          `json:"type"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           *int            `json:"retry_attempt,omitempty"`
	RetryReason            *string         `json:"retry_reason,omitempty"`
}

// verificationToken is the deprecated "token" field every payload carries.
const verificationToken = "fakeslack-verification-token"

type slashPayload struct {
	Token       string `json:"token"`
	TeamID      string `json:"team_id"`
	TeamDomain  string `json:"team_domain"`
	ChannelID   string `json:"channel_id"`
	ChannelName string `json:"channel_name"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	APIAppID    string `json:"api_app_id"`
	ResponseURL string `json:"response_url"`
	TriggerID   string `json:"trigger_id"`
}

type payloadUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	TeamID   string `json:"team_id"`
}

type payloadTeam struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
}

type payloadContainer struct {
	Type        string `json:"type"`
	MessageTS   string `json:"message_ts"`
	ThreadTS    string `json:"thread_ts,omitempty"`
	ChannelID   string `json:"channel_id"`
	IsEphemeral bool   `json:"is_ephemeral"`
}

type payloadChannel struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type payloadMessage struct {
	BotID       string          `json:"bot_id,omitempty"`
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	User        string          `json:"user"`
	TS          string          `json:"ts"`
	ThreadTS    string          `json:"thread_ts,omitempty"`
	AppID       string          `json:"app_id,omitempty"`
	Team        string          `json:"team"`
	Blocks      json.RawMessage `json:"blocks,omitempty"`
	Attachments json.RawMessage `json:"attachments,omitempty"`
}

type textObject struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type payloadAction struct {
	ActionID string      `json:"action_id"`
	BlockID  string      `json:"block_id"`
	Text     *textObject `json:"text,omitempty"`
	Value    string      `json:"value"`
	Style    string      `json:"style,omitempty"`
	Type     string      `json:"type"`
	ActionTS string      `json:"action_ts"`
}

type blockActionsPayload struct {
	Type                string           `json:"type"`
	User                payloadUser      `json:"user"`
	APIAppID            string           `json:"api_app_id"`
	Token               string           `json:"token"`
	Container           payloadContainer `json:"container"`
	TriggerID           string           `json:"trigger_id"`
	Team                payloadTeam      `json:"team"`
	Enterprise          *struct{}        `json:"enterprise"`
	IsEnterpriseInstall bool             `json:"is_enterprise_install"`
	Channel             payloadChannel   `json:"channel"`
	Message             *payloadMessage  `json:"message,omitempty"`
	State               json.RawMessage  `json:"state"`
	ResponseURL         string           `json:"response_url"`
	Actions             []payloadAction  `json:"actions"`
}

// viewActionsPayload is a block_actions payload from a button in a view.
type viewActionsPayload struct {
	Type                string          `json:"type"`
	User                payloadUser     `json:"user"`
	APIAppID            string          `json:"api_app_id"`
	Token               string          `json:"token"`
	Container           viewContainer   `json:"container"`
	TriggerID           string          `json:"trigger_id"`
	Team                payloadTeam     `json:"team"`
	Enterprise          *struct{}       `json:"enterprise"`
	IsEnterpriseInstall bool            `json:"is_enterprise_install"`
	View                map[string]any  `json:"view"`
	Actions             []payloadAction `json:"actions"`
}

type viewContainer struct {
	Type   string `json:"type"`
	ViewID string `json:"view_id"`
}

type viewSubmissionPayload struct {
	Type                string          `json:"type"`
	Team                payloadTeam     `json:"team"`
	User                payloadUser     `json:"user"`
	APIAppID            string          `json:"api_app_id"`
	Token               string          `json:"token"`
	TriggerID           string          `json:"trigger_id"`
	View                map[string]any  `json:"view"`
	ResponseURLs        []any           `json:"response_urls"`
	IsEnterpriseInstall bool            `json:"is_enterprise_install"`
	Enterprise          json.RawMessage `json:"enterprise"`
}

// stateValue is one entry of view.state.values: the value of one input
// element, shaped by the element's type.
func stateValue(elem map[string]any, value string) map[string]any {
	typ, _ := elem["type"].(string)
	if typ == "" {
		typ = "plain_text_input"
	}
	v := map[string]any{"type": typ}
	switch typ {
	case "static_select", "external_select", "radio_buttons":
		v["selected_option"] = optionFor(elem, value)
	case "checkboxes", "multi_static_select", "multi_external_select":
		v["selected_options"] = []any{optionFor(elem, value)}
	case "users_select":
		v["selected_user"] = value
	case "multi_users_select":
		v["selected_users"] = []string{value}
	case "conversations_select":
		v["selected_conversation"] = value
	case "channels_select":
		v["selected_channel"] = value
	case "datepicker":
		v["selected_date"] = value
	case "timepicker":
		v["selected_time"] = value
	default: // plain_text_input, number_input, email_text_input, url_text_input
		v["value"] = value
	}
	return v
}

// optionFor returns the option of a select element with the given value,
// or a made-up one if the element has no such option.
func optionFor(elem map[string]any, value string) map[string]any {
	opts, _ := elem["options"].([]any)
	for _, o := range opts {
		if m, ok := o.(map[string]any); ok && m["value"] == value {
			return m
		}
	}
	return map[string]any{
		"text":  map[string]any{"type": "plain_text", "text": value, "emoji": true},
		"value": value,
	}
}
